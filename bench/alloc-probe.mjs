// Preloaded into a sidecar by `npm run bench:alloc` (node --import bench/alloc-probe.mjs ...): it counts what the
// process spent between two SIGUSR2 signals and writes it, as JSON, to the file named by ALLOC_PROBE_FILE.
//
// Each SIGUSR2 closes the window opened by the previous one (or by the start of the process) and opens the next, so
// a caller sends one signal to mark, runs its load, sends another to read. The file is replaced whole (written
// aside, then renamed), and its `seq` counts the signals, so the caller knows the answer is for its own signal.
//
// Bytes allocated on the V8 heap, without sampling: the heap's used size only grows between two collections, by
// exactly what was allocated (promotion moves objects, it adds none), so the bytes allocated in a window are
//   (used before GC 1 - used at the mark) + sum over i > 1 of (used before GC i - used after GC i-1)
//     + (used now - used after the last GC)
// with the used sizes around each GC from v8.GCProfiler, which records them in the GC's own callbacks. The same sum
// over V8's external memory (ArrayBuffer backing stores, so Buffers) estimates the bytes allocated off the heap;
// V8 hears of those frees at its own pace, so that figure is an estimate where the heap's is exact.
// GC pause: the sum of each GC's cost (its atomic pause on the main thread; the concurrent marking and sweeping
// threads show only in the CPU time). CPU time: process.cpuUsage(), all threads, user and system.
import { renameSync, writeFileSync } from "node:fs";
import { GCProfiler, getHeapStatistics } from "node:v8";

const file = process.env.ALLOC_PROBE_FILE;
if (!file) throw new Error("alloc-probe: ALLOC_PROBE_FILE must name the file to write readings to");

let seq = 0;
let window = open();

function open() {
  const heap = getHeapStatistics();
  const profiler = new GCProfiler();
  const cpu = process.cpuUsage();
  const started = performance.now();
  profiler.start();
  return { profiler, cpu, started, used: heap.used_heap_size, external: heap.external_memory };
}

function close({ profiler, cpu, started, used, external }) {
  const heap = getHeapStatistics();
  const cpuSpent = process.cpuUsage(cpu);
  const wallMs = performance.now() - started;
  const { statistics } = profiler.stop();
  let heapBytes = 0;
  let externalBytes = 0;
  let lastUsed = used;
  let lastExternal = external;
  let gcPauseUs = 0;
  const gcs = {};
  for (const gc of statistics) {
    heapBytes += gc.beforeGC.heapStatistics.usedHeapSize - lastUsed;
    externalBytes += Math.max(0, gc.beforeGC.heapStatistics.externalMemory - lastExternal);
    lastUsed = gc.afterGC.heapStatistics.usedHeapSize;
    lastExternal = gc.afterGC.heapStatistics.externalMemory;
    gcPauseUs += gc.cost;
    gcs[gc.gcType] = (gcs[gc.gcType] ?? 0) + 1;
  }
  heapBytes += heap.used_heap_size - lastUsed;
  externalBytes += Math.max(0, heap.external_memory - lastExternal);
  return {
    heapBytes,
    externalBytes,
    gcPauseUs,
    gcs,
    cpuUserUs: cpuSpent.user,
    cpuSystemUs: cpuSpent.system,
    wallMs,
    heapUsedNow: heap.used_heap_size,
  };
}

process.on("SIGUSR2", () => {
  const reading = { seq: ++seq, pid: process.pid, ...close(window) };
  writeFileSync(`${file}.tmp`, JSON.stringify(reading));
  renameSync(`${file}.tmp`, file);
  window = open();
});
