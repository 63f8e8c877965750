/** `qhost -xml` -> execution hosts. Pure. */
import { parseMemory } from "./units.js";
import { childrenOf, parseXmlTree } from "./xml.js";

export interface ExecHost {
  name: string;
  arch?: string;
  cpus?: number;
  sockets?: number;
  cores?: number;
  threads?: number;
  load?: number;
  memTotalBytes?: number;
  memUsedBytes?: number;
  swapTotalBytes?: number;
  swapUsedBytes?: number;
  /** False when the host reports no values (execd down or never started): qhost prints "-". */
  reporting: boolean;
}

export function parseHosts(xml: string): ExecHost[] {
  const root = parseXmlTree(xml);
  if (root.name !== "qhost") throw new Error(`expected <qhost>, got <${root.name}>`);
  return childrenOf(root, "host")
    .filter((h) => h.attrs.name !== "global")
    .map((h) => {
      const v: Record<string, string> = {};
      for (const hv of childrenOf(h, "hostvalue")) if (hv.attrs.name) v[hv.attrs.name] = hv.text.trim();
      const num = (k: string) => {
        const s = v[k];
        return s === undefined || s === "-" || s === "" ? undefined : Number(s);
      };
      const mem = (k: string) => (v[k] === "-" ? undefined : parseMemory(v[k]));
      const host: ExecHost = {
        name: h.attrs.name ?? "",
        reporting: v.load_avg !== undefined && v.load_avg !== "-",
      };
      const set = <K extends keyof ExecHost>(k: K, x: ExecHost[K] | undefined) => {
        if (x !== undefined && !(typeof x === "number" && Number.isNaN(x))) host[k] = x;
      };
      set("arch", v.arch_string && v.arch_string !== "-" ? v.arch_string : undefined);
      set("cpus", num("num_proc"));
      set("sockets", num("m_socket"));
      set("cores", num("m_core"));
      set("threads", num("m_thread"));
      set("load", num("load_avg"));
      set("memTotalBytes", mem("mem_total"));
      set("memUsedBytes", mem("mem_used"));
      set("swapTotalBytes", mem("swap_total"));
      set("swapUsedBytes", mem("swap_used"));
      return host;
    });
}
