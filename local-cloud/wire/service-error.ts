/**
 * An error in a service's own vocabulary, before its protocol encodes it: `code` is the error name (the
 * restJson1 `x-amzn-ErrorType`, the restXml `<Code>`), `members` the error's other body members, `headers`
 * the members bound to headers (Greengrass `retryAfterSeconds` → `Retry-After`).
 */
export class ServiceError<Member = unknown> extends Error {
  readonly code: string;
  readonly status: number;
  readonly members: Readonly<Record<string, Member>>;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: string, status: number, message: string, members: Record<string, Member> = {}, headers: Record<string, string> = {}) {
    super(message);
    this.name = code;
    this.code = code;
    this.status = status;
    this.members = members;
    this.headers = headers;
  }
}
