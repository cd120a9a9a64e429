/**
 * Build seam (scripts/build-web.mjs): in the page, `@sinclair/typebox/compiler` resolves here. TypeBox's
 * TypeCompiler generates its checks with `new Function`, which the page's Content-Security-Policy forbids
 * (no 'unsafe-eval', docs/api.md §13); this one answers the same calls — `Compile(schema).Check/Errors` as
 * src/wire/check.ts uses them — with TypeBox's interpreted `Value.Check` / `Value.Errors`. The schemas and
 * what they accept are the wire's own; only the speed differs (microseconds a message, which the page's
 * signaling rate never notices).
 */
import type { TSchema } from '@sinclair/typebox';
import { Value, type ValueErrorIterator } from '@sinclair/typebox/value';

/** The part of TypeBox's `TypeCheck` the wire's checkers call. */
export interface InterpretedCheck {
  Check(value: unknown): boolean;
  Errors(value: unknown): ValueErrorIterator;
}

export const TypeCompiler = {
  Compile(schema: TSchema, references: TSchema[] = []): InterpretedCheck {
    return {
      Check: (value) => Value.Check(schema, references, value),
      Errors: (value) => Value.Errors(schema, references, value),
    };
  },
};
