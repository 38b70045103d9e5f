/** What Linux's /proc says about a process, for the benchmarks. */
import { readFileSync } from 'node:fs';

/** utime + stime of a process so far, ms (USER_HZ is 100 on Linux); NaN when it cannot be read. */
export function procCpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}
