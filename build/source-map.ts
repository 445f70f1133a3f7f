/** A built script without its trailing `//# sourceMappingURL=` comment (to inline it, or to rename the map). */
export function withoutSourceMapComment(code: string): string {
  return code.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
}
