// SnakepitError.code is a closed union (ErrorCode) a caller can switch over, while a wire error
// may carry any code: a tool picks its own with `raise ToolError("NOT_FOUND", …)`, and a peer may
// send anything. from() maps a code outside the catalog to TOOL_ERROR and keeps it as toolCode;
// toJSON() gives the code back as it came, so a router or the CLI's --json passes it on unchanged.
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, SnakepitError, isErrorCode } from '../../src/errors.js';

describe('SnakepitError codes', () => {
  it('keeps a catalog code as it is', () => {
    const e = SnakepitError.from({ code: 'TIMEOUT', message: 'late', agent: 'a1' });
    expect([e.code, e.toolCode, e.agent]).toEqual(['TIMEOUT', undefined, 'a1']);
    expect(e.toJSON()).toEqual({ code: 'TIMEOUT', message: 'late', agent: 'a1' });
  });

  it("maps a tool's own code to TOOL_ERROR and keeps it as toolCode", () => {
    const e = SnakepitError.from({ code: 'NEGATIVE_INPUT', message: 'x must be >= 0' });
    expect([e.code, e.toolCode]).toEqual(['TOOL_ERROR', 'NEGATIVE_INPUT']);
    expect(e.toJSON()).toEqual({ code: 'NEGATIVE_INPUT', message: 'x must be >= 0' });
    expect(SnakepitError.from(e.toJSON())).toMatchObject({ code: 'TOOL_ERROR', toolCode: 'NEGATIVE_INPUT' });
  });

  it('ToolError without a code (TOOL_ERROR) is a catalog code', () => {
    expect(SnakepitError.from({ code: 'TOOL_ERROR', message: 'no' })).toMatchObject({ code: 'TOOL_ERROR', toolCode: undefined });
  });

  it('knows exactly the catalog', () => {
    for (const code of ERROR_CODES) expect(isErrorCode(code)).toBe(true);
    for (const other of ['', 'timeout', 'NOT_FOUND', 'toString', '__proto__', 7, null, undefined]) expect(isErrorCode(other)).toBe(false);
  });
});
