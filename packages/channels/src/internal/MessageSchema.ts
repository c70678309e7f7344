import { ConfigError, InvalidArgumentError } from '@liminal/store';
import { Ajv, type ValidateFunction } from 'ajv';
import { IncompatibleSchemaError, SchemaMismatchError } from '../errors.js';
import type { JsonSchema } from '../types.js';

/**
 * A channel's JSON Schema, compiled once by ajv. `useDefaults` fills omitted
 * optional fields with their declared default, which is what lets a schema
 * grow an optional field without breaking publishers that do not know it yet:
 * subscribers receive the default.
 */
export class MessageSchema {
  readonly #validate: ValidateFunction;

  constructor(
    private readonly channel: string,
    readonly schema: JsonSchema,
  ) {
    const ajv = new Ajv({ useDefaults: true, allErrors: true });
    try {
      this.#validate = ajv.compile(schema);
    } catch (cause) {
      throw new ConfigError(`channel ${JSON.stringify(channel)}: invalid JSON Schema: ${(cause as Error).message}`, { cause });
    }
  }

  /** Returns a validated copy with defaults applied; the publisher's object is never mutated. */
  validate(message: unknown): unknown {
    let copy: unknown;
    try {
      copy = structuredClone(message);
    } catch (cause) {
      throw new InvalidArgumentError('message', `cannot be copied as data: ${(cause as Error).message}`);
    }
    if (this.#validate(copy)) return copy;
    const errors = (this.#validate.errors ?? []).map((e) => `${e.instancePath === '' ? '/' : e.instancePath} ${e.message ?? e.keyword}`);
    throw new SchemaMismatchError(this.channel, errors);
  }

  /**
   * The next version of this schema. A field that becomes required would
   * make every existing publisher's messages invalid, so that is refused.
   */
  evolve(next: JsonSchema): MessageSchema {
    const before = new Set(requiredFields(this.schema));
    const newlyRequired = requiredFields(next).filter((field) => !before.has(field));
    if (newlyRequired.length > 0) throw new IncompatibleSchemaError(this.channel, newlyRequired);
    return new MessageSchema(this.channel, next);
  }
}

function requiredFields(schema: JsonSchema): string[] {
  const required = typeof schema === 'object' ? schema['required'] : undefined;
  return Array.isArray(required) ? required.filter((f): f is string => typeof f === 'string') : [];
}
