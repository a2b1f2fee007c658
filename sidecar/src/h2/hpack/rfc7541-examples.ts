// RFC 7541 Appendix C.3 to C.6: each sequence of header blocks with the fields and dynamic table state after each.
// Test fixture only (not exported from index.ts).

export interface Example {
  /** Hex of the header block as the RFC prints it. */
  hex: string;
  fields: [string, string][];
  /** Dynamic table after the block, newest first, and its size. */
  table: [string, string][];
  size: number;
}

export interface ExampleSequence {
  section: string;
  huffman: boolean;
  maxTableSize: number;
  blocks: Example[];
}

const REQ1: [string, string][] = [
  [":method", "GET"],
  [":scheme", "http"],
  [":path", "/"],
  [":authority", "www.example.com"],
];
const REQ2: [string, string][] = [...REQ1, ["cache-control", "no-cache"]];
const REQ3: [string, string][] = [
  [":method", "GET"],
  [":scheme", "https"],
  [":path", "/index.html"],
  [":authority", "www.example.com"],
  ["custom-key", "custom-value"],
];
const REQ_TABLES: [string, string][][] = [
  [[":authority", "www.example.com"]],
  [
    ["cache-control", "no-cache"],
    [":authority", "www.example.com"],
  ],
  [
    ["custom-key", "custom-value"],
    ["cache-control", "no-cache"],
    [":authority", "www.example.com"],
  ],
];
const REQ_SIZES = [57, 110, 164];

const DATE1 = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE2 = "Mon, 21 Oct 2013 20:13:22 GMT";
const LOCATION = "https://www.example.com";
const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const RESP1: [string, string][] = [
  [":status", "302"],
  ["cache-control", "private"],
  ["date", DATE1],
  ["location", LOCATION],
];
const RESP2: [string, string][] = [
  [":status", "307"],
  ["cache-control", "private"],
  ["date", DATE1],
  ["location", LOCATION],
];
const RESP3: [string, string][] = [
  [":status", "200"],
  ["cache-control", "private"],
  ["date", DATE2],
  ["location", LOCATION],
  ["content-encoding", "gzip"],
  ["set-cookie", COOKIE],
];
const RESP_TABLES: [string, string][][] = [
  [
    ["location", LOCATION],
    ["date", DATE1],
    ["cache-control", "private"],
    [":status", "302"],
  ],
  [
    [":status", "307"],
    ["location", LOCATION],
    ["date", DATE1],
    ["cache-control", "private"],
  ],
  [
    ["set-cookie", COOKIE],
    ["content-encoding", "gzip"],
    ["date", DATE2],
  ],
];
const RESP_SIZES = [222, 222, 215];

function sequence(
  section: string,
  huffman: boolean,
  maxTableSize: number,
  hex: string[],
  fields: [string, string][][],
  tables: [string, string][][],
  sizes: number[],
): ExampleSequence {
  return {
    section,
    huffman,
    maxTableSize,
    blocks: hex.map((h, i) => ({
      hex: h.replace(/\s+/g, ""),
      fields: fields[i] ?? [],
      table: tables[i] ?? [],
      size: sizes[i] ?? 0,
    })),
  };
}

export const EXAMPLE_SEQUENCES: ExampleSequence[] = [
  sequence(
    "C.3 requests without Huffman",
    false,
    4096,
    [
      "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      "8286 84be 5808 6e6f 2d63 6163 6865",
      "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ],
    [REQ1, REQ2, REQ3],
    REQ_TABLES,
    REQ_SIZES,
  ),
  sequence(
    "C.4 requests with Huffman",
    true,
    4096,
    [
      "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
      "8286 84be 5886 a8eb 1064 9cbf",
      "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ],
    [REQ1, REQ2, REQ3],
    REQ_TABLES,
    REQ_SIZES,
  ),
  sequence(
    "C.5 responses without Huffman",
    false,
    256,
    [
      "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d" +
        "546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      "4803 3330 37c1 c0bf",
      "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f" +
        "6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b" +
        "2076 6572 7369 6f6e 3d31",
    ],
    [RESP1, RESP2, RESP3],
    RESP_TABLES,
    RESP_SIZES,
  ),
  sequence(
    "C.6 responses with Huffman",
    true,
    256,
    [
      "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7" +
        "8f0b 97c8 e9ae 82ae 43d3",
      "4883 640e ffc1 c0bf",
      "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335" +
        "dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ],
    [RESP1, RESP2, RESP3],
    RESP_TABLES,
    RESP_SIZES,
  ),
];
