/** A config field that is wrong, found after the schema (its position is looked up by the field). */
export class FieldError extends Error {
  override readonly name = "FieldError";
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}
