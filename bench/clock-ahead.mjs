// Preloaded (NODE_OPTIONS=--import) into a service to move its clock CLOCK_SKEW_MS ahead, as on a host whose clock
// is off: Date and Date.now shift, timers do not.
const skewMs = Number(process.env.CLOCK_SKEW_MS ?? 0);
const RealDate = Date;

class SkewedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + skewMs);
    else super(...args);
  }
  static now() {
    return RealDate.now() + skewMs;
  }
}

globalThis.Date = SkewedDate;
