import { describe, expect, it } from 'vitest';
import { splitOptionList } from './option-list.js';

describe('splitOptionList', () => {
  it('splits HEAD and key=value / bare items, with ,, as a literal comma anywhere', () => {
    expect(splitOptionList('a,,b.img,format=raw,readonly,serial=x,,y')).toEqual({
      head: 'a,b.img',
      options: [
        { key: 'format', value: 'raw', text: 'format=raw' },
        { key: 'readonly', value: undefined, text: 'readonly' },
        { key: 'serial', value: 'x,y', text: 'serial=x,y' },
      ],
    });
    expect(splitOptionList('')).toEqual({ head: '', options: [] });
    expect(splitOptionList('p,k=a=b,')).toEqual({ head: 'p', options: [{ key: 'k', value: 'a=b', text: 'k=a=b' }, { key: '', value: undefined, text: '' }] });
  });
});
