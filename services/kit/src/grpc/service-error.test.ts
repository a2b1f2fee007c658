import { status } from "@grpc/grpc-js";
import { DriverException } from "@mikro-orm/core";
import { describe, expect, it } from "vitest";
import { ServiceError, toStatusReport } from "./service-error.ts";

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe("toStatusReport", () => {
  it("passes a ServiceError's code and message on", () => {
    expect(toStatusReport(new ServiceError(status.NOT_FOUND, "no order 42"))).toMatchObject({
      code: status.NOT_FOUND,
      details: "no order 42",
    });
  });

  it("hides an unexpected error's text behind INTERNAL", () => {
    expect(toStatusReport(new Error("secret at 10.0.0.5"))).toMatchObject({
      code: status.INTERNAL,
      details: "internal error",
    });
  });

  it.each([
    [withCode("connect ECONNREFUSED 10.0.0.5:5432", "ECONNREFUSED"), "database unavailable (ECONNREFUSED)"],
    [withCode("terminating connection due to administrator command", "57P01"), "database unavailable (57P01)"],
    [withCode("the database system is starting up", "57P03"), "database unavailable (57P03)"],
    [new DriverException(withCode("connection failure", "08006")), "database unavailable (08006)"],
    [new Error("Connection terminated unexpectedly"), "database unavailable (connection terminated)"],
    [
      new Error("wrapped", { cause: new Error("Connection terminated") }),
      "database unavailable (connection terminated)",
    ],
    [
      new Error("Knex: Timeout acquiring a connection. The pool is probably full."),
      "database unavailable (no connection in time)",
    ],
    // What a PostgreSQL restart under load gave the inventory service (seen in the fault suite): no code, the
    // statement in front of the driver's words.
    [
      new DriverException(
        new Error('select "p0".* from "product" as "p0" limit 6 - Connection terminated unexpectedly'),
      ),
      "database unavailable (connection terminated)",
    ],
    [
      new DriverException(
        new Error('select "p0".* from "product" as "p0" limit 6 - terminating connection due to administrator command'),
      ),
      "database unavailable (57P01)",
    ],
    [
      new Error("Client has encountered a connection error and is not queryable"),
      "database unavailable (connection closed)",
    ],
  ])("answers a database that is down or restarting with UNAVAILABLE: %s", (error, details) => {
    expect(toStatusReport(error)).toMatchObject({ code: status.UNAVAILABLE, details });
  });

  it("keeps query errors (a constraint, bad SQL) INTERNAL", () => {
    expect(toStatusReport(withCode('duplicate key value violates unique constraint "x"', "23505")).code).toBe(
      status.INTERNAL,
    );
  });
});
