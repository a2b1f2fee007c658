import { describe, expect, it } from "vitest";
import { ReceiveWindow, SendWindow } from "./flow-control.ts";

describe("SendWindow", () => {
  it("is consumed by data, grown by WINDOW_UPDATE, and refuses to pass 2^31-1", () => {
    const window = new SendWindow(65_535);
    window.consume(65_535);
    expect(window.size).toBe(0);
    expect(window.grow(100)).toBe(true);
    expect(window.size).toBe(100);
    expect(window.grow(2 ** 31 - 1)).toBe(false);
    expect(window.size).toBe(100);
  });
});

describe("ReceiveWindow", () => {
  it("refuses data past what it advertised", () => {
    const window = new ReceiveWindow(100);
    expect(window.receive(60)).toBe(true);
    expect(window.receive(41)).toBe(false);
    expect(window.receive(40)).toBe(true);
  });

  it("gives released bytes back in one update once half the window is released", () => {
    const window = new ReceiveWindow(100);
    window.receive(100);
    expect(window.release(30)).toBe(0);
    expect(window.available).toBe(0);
    expect(window.release(20)).toBe(50);
    expect(window.available).toBe(50);
    expect(window.release(10)).toBe(0);
  });
});
