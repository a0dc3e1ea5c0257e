/**
 * A plugin's root filesystem as dpk sees it, whatever it came from (a directory, a flattened image, an archive).
 * Paths are normalised: relative to the rootfs root, no leading "/", no "." or ".." components, "" is the root.
 */
export type RootfsEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface RootfsEntry {
  path: string;
  type: RootfsEntryType;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Symlink target as stored (may be absolute: it is relative to the rootfs root then), or hardlink target path. */
  linkname?: string;
}

export interface RootfsIndex {
  /** Every entry by normalised path. */
  entries: ReadonlyMap<string, RootfsEntry>;
  /**
   * Up to maxBytes of a regular file's content (for ELF headers, shebangs, dynamic sections), or undefined when the
   * path is not a regular file in this rootfs. A hard link reads its target. Never follows anything on the host.
   */
  readFile(path: string, maxBytes: number): Promise<Buffer | undefined>;
}
