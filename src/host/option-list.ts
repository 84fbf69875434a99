/** One `key=value` (or bare `key`) item of an option list. */
export interface ListedOption {
  readonly key: string;
  /** Undefined for a bare flag such as `readonly`. */
  readonly value: string | undefined;
  /** The item as written, for messages. */
  readonly text: string;
}

/**
 * Splits a QEMU-style option list, `HEAD[,key=value][,flag]…`, where `,,` stands for a literal
 * comma (in HEAD, typically a path, or in a value) — the syntax of QEMU's -drive and of our
 * --disk, --share and --net.
 */
export function splitOptionList(text: string): { head: string; options: ListedOption[] } {
  const parts: string[] = [''];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ',') {
      if (text[i + 1] === ',') {
        parts[parts.length - 1] += ',';
        i++;
      } else parts.push('');
    } else parts[parts.length - 1] += text[i];
  }
  const options = parts.slice(1).map((item) => {
    const eq = item.indexOf('=');
    return { key: eq < 0 ? item : item.slice(0, eq), value: eq < 0 ? undefined : item.slice(eq + 1), text: item };
  });
  return { head: parts[0]!, options };
}
