import { describe, expect, it } from 'vitest';
import { TypervisorError } from './errors.js';
import { StateReader } from './state-reader.js';

describe('StateReader', () => {
  it('reads valid fields', () => {
    const r = new StateReader('dev', { version: 2, a: 3, b: true, c: [1, 2] }, 2);
    expect(r.int('a', 0, 3)).toBe(3);
    expect(r.bool('b')).toBe(true);
    expect(r.ints('c', 0, 255, 2, true)).toEqual([1, 2]);
    r.done();
  });

  it.each([
    ['not an object', 5],
    ['null', null],
    ['an array', [1]],
    ['a class instance', new Date()],
    ['the wrong version', { version: 1, a: 1 }],
    ['a version whose toString is not callable', { version: { toString: [] } }],
    ['a version whose valueOf throws', { version: { valueOf: () => { throw new Error('x'); } } }],
    ['a version that is a symbol', { version: Symbol('v') }],
  ])('rejects %s', (_what, state) => {
    expect(() => new StateReader('dev', state, 2)).toThrow(TypervisorError);
  });

  it('rejects bad, missing and unknown fields', () => {
    const read = (state: object, f: (r: StateReader) => unknown) => () => {
      const r = new StateReader('dev', { version: 1, ...state }, 1);
      f(r);
      r.done();
    };
    expect(read({ a: 1.5 }, (r) => r.int('a', 0, 9))).toThrow(/field 'a'/);
    expect(read({ a: 10 }, (r) => r.int('a', 0, 9))).toThrow(TypervisorError);
    expect(read({ a: '1' }, (r) => r.int('a', 0, 9))).toThrow(TypervisorError);
    expect(read({}, (r) => r.int('a', 0, 9))).toThrow(/lacks field 'a'/);
    expect(read({ a: 1, z: 0 }, (r) => r.int('a', 0, 9))).toThrow(/unknown field 'z'/);
    expect(read({ a: 1 }, (r) => r.bool('a'))).toThrow(TypervisorError);
    expect(read({ a: [1, 256] }, (r) => r.ints('a', 0, 255, 4))).toThrow(TypervisorError);
    expect(read({ a: [1, 2, 3] }, (r) => r.ints('a', 0, 255, 2))).toThrow(TypervisorError);
    expect(read({ a: [1] }, (r) => r.ints('a', 0, 255, 2, true))).toThrow(/exactly 2/);
    expect(read({}, (r) => r.check(false, 'is inconsistent'))).toThrow(/saved state of dev is inconsistent/);
  });
});
