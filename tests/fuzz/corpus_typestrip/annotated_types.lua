type Job = {id: integer, input: integer}
export type Result<T, E = string> = {ok: boolean, value: T?, err: E?}
type Callback = (job: Job, n: number) -> (boolean, string?)
type Mode = "fast" | "slow" | nil
type Pair<T> = {T}
type Both = A & B
