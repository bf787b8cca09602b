import type { Unit } from '../protocol/enums.ts';
import { affectedScopes } from '../protocol/scopes.ts';
import type { Subject } from '../protocol/types.ts';
import type { LedgerRow } from './ledger-row.ts';

/** What the ledger derives once per distinct subject: its scopes and, per unit, its budgeted rows. */
export interface SubjectEntry {
  /** Frozen: shared by every response for this subject. */
  scopes: string[];
  /** A frozen copy of the subject's standard levels, shared by the reservations of subjects without dimensions. */
  subject: Subject;
  path: string;
  /** Budgeted rows per unit, valid while `generation` matches the ledger's. */
  byUnit: Map<Unit, { generation: number; rows: LedgerRow[] }>;
}

interface Node {
  entry: SubjectEntry | undefined;
  children: Map<string, Node> | undefined;
}

/**
 * Subject → entry, as a trie over the six standard levels, so a lookup reads the subject's own strings
 * instead of building a key string per request. Cleared when it reaches `maxEntries` (bounded memory
 * for callers with unbounded subject sets; entries are cheap to rebuild).
 */
export class SubjectCache {
  private root: Node = { entry: undefined, children: undefined };
  private count = 0;
  /** The levels of the previous lookup (copied: the caller may mutate its subject) and its entry. */
  private last: (Omit<Subject, 'dimensions'> & { entry: SubjectEntry }) | undefined;

  constructor(private readonly maxEntries: number) {}

  get(subject: Subject): SubjectEntry {
    // Callers usually repeat one subject: six string comparisons beat six map lookups.
    const last = this.last;
    if (
      last !== undefined &&
      subject.tenant === last.tenant &&
      subject.workspace === last.workspace &&
      subject.app === last.app &&
      subject.workflow === last.workflow &&
      subject.agent === last.agent &&
      subject.toolset === last.toolset
    ) {
      return last.entry;
    }
    const entry = this.find(subject);
    this.last = {
      tenant: subject.tenant,
      workspace: subject.workspace,
      app: subject.app,
      workflow: subject.workflow,
      agent: subject.agent,
      toolset: subject.toolset,
      entry,
    };
    return entry;
  }

  private find(subject: Subject): SubjectEntry {
    let node = this.root;
    node = step(node, subject.tenant);
    node = step(node, subject.workspace);
    node = step(node, subject.app);
    node = step(node, subject.workflow);
    node = step(node, subject.agent);
    node = step(node, subject.toolset);
    if (node.entry !== undefined) return node.entry;
    const scopes = affectedScopes(subject);
    Object.freeze(scopes);
    const entry: SubjectEntry = {
      scopes,
      subject: Object.freeze(levelsOf(subject)),
      path: scopes[scopes.length - 1]!,
      byUnit: new Map(),
    };
    if (this.count >= this.maxEntries) {
      this.root = { entry: undefined, children: undefined };
      this.count = 0;
      return entry;
    }
    node.entry = entry;
    this.count++;
    return entry;
  }
}

function step(node: Node, value: string | undefined): Node {
  const key = value ?? '';
  let children = node.children;
  if (children === undefined) {
    children = new Map();
    node.children = children;
  }
  let child = children.get(key);
  if (child === undefined) {
    child = { entry: undefined, children: undefined };
    children.set(key, child);
  }
  return child;
}

/** The standard levels a subject sets (absent ones stay absent, as in the caller's object). */
function levelsOf(subject: Subject): Subject {
  const levels: Subject = {};
  if (subject.tenant !== undefined) levels.tenant = subject.tenant;
  if (subject.workspace !== undefined) levels.workspace = subject.workspace;
  if (subject.app !== undefined) levels.app = subject.app;
  if (subject.workflow !== undefined) levels.workflow = subject.workflow;
  if (subject.agent !== undefined) levels.agent = subject.agent;
  if (subject.toolset !== undefined) levels.toolset = subject.toolset;
  return levels;
}
