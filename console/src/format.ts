// Dates, sizes and durations as an administrator reads them.

const localFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  timeZoneName: "short",
});

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** "2026-12-02 03:24 UTC" */
export function utc(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

/** Local time with UTC: "Wed, Dec 2, 2026, 04:24 AM CET (2026-12-02 03:24 UTC)" */
export function when(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${localFormat.format(d)} (${utc(iso)})`;
}

export function bytes(n: number): string {
  if (!Number.isFinite(n)) return "unknown size";
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = unit === 0 ? String(value) : value.toFixed(value < 10 ? 2 : 1);
  return `${shown} ${units[unit]}`;
}

export function exactBytes(n: number): string {
  return `${n.toLocaleString("en-US")} bytes`;
}

export function count(n: number, one: string, many: string): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

/** "1 min 05 s", "12 s" */
export function elapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h} h ${pad(m)} min ${pad(s)} s`;
  if (m > 0) return `${m} min ${pad(s)} s`;
  return `${s} s`;
}

/** "5 days 23 hours", "3 hours 12 minutes", "4 minutes" */
export function remaining(ms: number): string {
  if (ms <= 0) return "no time";
  const minutes = Math.floor(ms / 60000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  if (days > 0) return `${count(days, "day", "days")} ${count(hours, "hour", "hours")}`;
  if (hours > 0) return `${count(hours, "hour", "hours")} ${count(mins, "minute", "minutes")}`;
  if (mins > 0) return count(mins, "minute", "minutes");
  return "less than a minute";
}

const conversationNames: Record<string, string> = {
  DIRECT: "1:1 conversations",
  GROUP: "Group conversations",
  ROOM: "Rooms",
};

export function conversationType(t: string): string {
  return conversationNames[t] ?? t;
}

const statusNames: Record<string, string> = {
  QUEUED: "Queued",
  RUNNING: "Running",
  SUCCEEDED: "Succeeded",
  SUCCEEDED_WITH_ERRORS: "Succeeded with errors",
  FAILED: "Failed",
  EXPIRED: "Expired",
  REVOKED: "Revoked",
};

export function status(s: string): string {
  return statusNames[s] ?? s;
}

export function formatName(f: string): string {
  return f === "jsonl" ? "JSON Lines" : f === "csv" ? "CSV" : f;
}

/** Never shows a link: anything that looks like a URL is replaced. */
export function noUrls(message: string): string {
  return message.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, "[link removed]");
}
