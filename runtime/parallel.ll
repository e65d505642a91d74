; The thread pool that runs parallel loops (see compiler/passes/loom_parallel_to_threads.py):
; pthreads called from LLVM IR, so it needs nothing beyond libc. It is compiled once per process
; into its own module and shared by every compiled function (runtime/parallel.py).
;
;   i32 loom_parallel_for(fn, ctx, n, error_values)
;       runs fn(ctx, lo, hi, values) over chunks [lo, hi) of the iterations [0, n) on the calling
;       thread and the pool's workers, and returns when all are done: 0, or the status of the first
;       failing iteration in loop order (chunks after a failing one are skipped), its error values
;       copied to `error_values`. `fn` is a Loom function (`i32 (ptr, i64, i64, ptr)`).
;   i32 loom_parallel_status(status, values, error_values): copies the values, returns status.
;   void loom_parallel_set_threads(n): threads per loop, the caller included (1 to 256).
;   void loom_parallel_set_spin(ns): how long a thread polls for work (or for the last chunks)
;       before it sleeps, in nanoseconds (below, "Spinning").
;
; Workers start on first use, block every signal (Ctrl-C is the main thread's), and sleep on a
; condition variable between loops. One loop runs on the pool at a time: a loop that finds it busy
; (another Python thread, or a loop inside a loop body) runs on its own thread. Which thread runs
; which chunk never changes a result: each iteration writes its own elements. A forked child
; starts with no workers (`loom_parallel_after_fork`, which runtime/parallel.py registers with
; os.register_at_fork: glibc's pthread_atfork is not a symbol the JIT can resolve).

declare i32 @pthread_mutex_lock(ptr)
declare i32 @pthread_mutex_unlock(ptr)
declare i32 @pthread_mutex_trylock(ptr)
declare i32 @pthread_cond_wait(ptr, ptr)
declare i32 @pthread_cond_broadcast(ptr)
declare i32 @pthread_cond_signal(ptr)
declare i32 @pthread_create(ptr, ptr, ptr, ptr)
declare i32 @pthread_detach(i64)
declare i32 @pthread_sigmask(i32, ptr, ptr)
declare i32 @sigfillset(ptr)
declare void @llvm.memcpy.p0.p0.i64(ptr noalias, ptr noalias, i64, i1)
declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)

; pthread_mutex_t and pthread_cond_t are all zeros when statically initialized (glibc, musl)
@lp_lock = internal global [64 x i8] zeroinitializer, align 16    ; guards the job and counters
@lp_submit = internal global [64 x i8] zeroinitializer, align 16  ; held while a loop uses the pool
@lp_work = internal global [64 x i8] zeroinitializer, align 16    ; signalled: a new job
@lp_done = internal global [64 x i8] zeroinitializer, align 16    ; signalled: the last chunk is done
@lp_threads = internal global i64 1         ; threads per loop, the caller included
@lp_workers = internal global i64 0         ; workers started
@lp_generation = internal global i64 0      ; job number
@lp_active = internal global i64 0          ; workers 0 .. active-1 take part in the job
@lp_fn = internal global ptr null
@lp_ctx = internal global ptr null
@lp_n = internal global i64 0
@lp_chunks = internal global i64 0
@lp_next = internal global i64 0            ; (job number << 32) | next chunk to take (atomic)
@lp_finished = internal global i64 0        ; chunks of the job finished (atomic)
@lp_fail_chunk = internal global i64 0      ; first failing chunk so far (atomic)
@lp_status = internal global i32 0
@lp_values = internal global [4 x i64] zeroinitializer

define void @loom_parallel_set_threads(i64 %n) {
  %lo = icmp slt i64 %n, 1
  %a = select i1 %lo, i64 1, i64 %n
  %hi = icmp sgt i64 %a, 256
  %b = select i1 %hi, i64 256, i64 %a
  store atomic i64 %b, ptr @lp_threads monotonic, align 8
  ret void
}

define i32 @loom_parallel_status(i32 %status, ptr %values, ptr %err) {
  call void @llvm.memcpy.p0.p0.i64(ptr %err, ptr %values, i64 32, i1 false)
  ret i32 %status
}

; Take chunks of job %job (its number's low 32 bits) until none is left. A chunk is taken by a
; compare-and-swap of `lp_next` that also checks the job number, so a worker that wakes up late
; never takes a chunk of a later job with this job's function and context.
define internal void @lp_run(i64 %job, ptr %fn, ptr %ctx, i64 %n, i64 %chunks) {
entry:
  %err = alloca [4 x i64], align 8
  br label %next
next:
  %cur = load atomic i64, ptr @lp_next monotonic, align 8
  %tag = lshr i64 %cur, 32
  %same = icmp eq i64 %tag, %job
  %c = and i64 %cur, 4294967295
  %more = icmp slt i64 %c, %chunks
  %open = and i1 %same, %more
  br i1 %open, label %take, label %out
take:
  %cur1 = add i64 %cur, 1
  %pair = cmpxchg ptr @lp_next, i64 %cur, i64 %cur1 monotonic monotonic
  %taken = extractvalue { i64, i1 } %pair, 1
  br i1 %taken, label %check, label %next
check:
  %failed = load atomic i64, ptr @lp_fail_chunk monotonic, align 8
  %later = icmp sgt i64 %c, %failed
  br i1 %later, label %finished, label %call
call:
  %a = mul i64 %c, %n
  %lo = sdiv i64 %a, %chunks
  %c1 = add i64 %c, 1
  %b = mul i64 %c1, %n
  %hi = sdiv i64 %b, %chunks
  %st = call i32 %fn(ptr %ctx, i64 %lo, i64 %hi, ptr %err)
  %ok = icmp eq i32 %st, 0
  br i1 %ok, label %finished, label %fail
fail:
  call i32 @pthread_mutex_lock(ptr @lp_lock)
  %f = load atomic i64, ptr @lp_fail_chunk monotonic, align 8
  %first = icmp slt i64 %c, %f
  br i1 %first, label %record, label %unlock
record:
  store atomic i64 %c, ptr @lp_fail_chunk monotonic, align 8
  store i32 %st, ptr @lp_status
  call void @llvm.memcpy.p0.p0.i64(ptr @lp_values, ptr %err, i64 32, i1 false)
  br label %unlock
unlock:
  call i32 @pthread_mutex_unlock(ptr @lp_lock)
  br label %finished
finished:                               ; the last chunk wakes the caller
  %done = atomicrmw add ptr @lp_finished, i64 1 acq_rel
  %done1 = add i64 %done, 1
  %all = icmp eq i64 %done1, %chunks
  br i1 %all, label %wake, label %next
wake:
  call i32 @pthread_mutex_lock(ptr @lp_lock)
  call i32 @pthread_cond_signal(ptr @lp_done)
  call i32 @pthread_mutex_unlock(ptr @lp_lock)
  br label %out
out:
  ret void
}

; Spinning. Waking a thread asleep on a condition variable costs tens of microseconds (more on a
; virtual machine, whose idle virtual CPU the host has halted): as much as a whole small parallel
; loop. So a worker that finished a job, and the caller waiting for the workers' chunks, first poll
; for up to @lp_spin_ns nanoseconds (a `pause` between polls, `yield` on ARM: runtime/jit.py's
; `runtime_ll`; the clock read every 64 polls) before they sleep — OpenMP's KMP_BLOCKTIME or
; GOMP_SPINCOUNT, set by `loom_parallel_set_spin` (LOOM_SPIN_US: runtime/parallel.py). Returns
; whether the awaited value came (otherwise the caller sleeps, having re-checked under the lock).
@lp_spin_ns = internal global i64 2000000   ; 2 ms, runtime/parallel.py's DEFAULT_SPIN_US

define void @loom_parallel_set_spin(i64 %ns) {
  %neg = icmp slt i64 %ns, 0
  %a = select i1 %neg, i64 0, i64 %ns
  store atomic i64 %a, ptr @lp_spin_ns monotonic, align 8
  ret void
}

declare i32 @clock_gettime(i32, ptr)

define internal i64 @lp_now() {          ; CLOCK_MONOTONIC (1 on Linux), in nanoseconds
  %ts = alloca [2 x i64], align 8
  call i32 @clock_gettime(i32 1, ptr %ts)
  %s = load i64, ptr %ts
  %nsp = getelementptr inbounds [2 x i64], ptr %ts, i64 0, i64 1
  %ns = load i64, ptr %nsp
  %sns = mul i64 %s, 1000000000
  %t = add i64 %sns, %ns
  ret i64 %t
}

define internal i1 @lp_spin_until(ptr %p, i64 %x, i1 %equal) {   ; until (*p == x) == equal
entry:
  %limit = load atomic i64, ptr @lp_spin_ns monotonic, align 8
  %start = call i64 @lp_now()
  %deadline = add i64 %start, %limit
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %again ]
  %v = load atomic i64, ptr %p acquire, align 8
  %eq = icmp eq i64 %v, %x
  %came = icmp eq i1 %eq, %equal
  br i1 %came, label %yes, label %more
more:
  %i1 = add i64 %i, 1
  %low = and i64 %i1, 63
  %tick = icmp eq i64 %low, 0
  br i1 %tick, label %clock, label %again
clock:
  %now = call i64 @lp_now()
  %out = icmp sge i64 %now, %deadline
  br i1 %out, label %no, label %again
again:
  call void asm sideeffect "pause", "~{memory}"()
  br label %loop
yes:
  ret i1 true
no:
  ret i1 false
}

; A worker: %arg is (the job number when it was started) << 8 | its index.
define internal ptr @lp_worker(ptr %arg) {
entry:
  %bits = ptrtoint ptr %arg to i64
  %index = and i64 %bits, 255
  %g0 = lshr i64 %bits, 8
  %set = alloca [128 x i8], align 8
  call i32 @sigfillset(ptr %set)
  call i32 @pthread_sigmask(i32 0, ptr %set, ptr null)   ; SIG_BLOCK
  %seenp = alloca i64, align 8
  store i64 %g0, ptr %seenp
  call i32 @pthread_mutex_lock(ptr @lp_lock)
  br label %wait
wait:                                   ; holding lp_lock
  %g = load i64, ptr @lp_generation
  %seen = load i64, ptr %seenp
  %new = icmp ne i64 %g, %seen
  br i1 %new, label %job, label %spin_start
spin_start:                             ; spin a while without the lock: the next loop often comes soon
  call i32 @pthread_mutex_unlock(ptr @lp_lock)
  %waited = call i1 @lp_spin_until(ptr @lp_generation, i64 %seen, i1 false)
  call i32 @pthread_mutex_lock(ptr @lp_lock)
  br i1 %waited, label %wait, label %recheck
recheck:                                ; holding lp_lock: a job published since the last look?
  %g2 = load i64, ptr @lp_generation
  %new2 = icmp ne i64 %g2, %seen
  br i1 %new2, label %wait, label %sleep
sleep:
  call i32 @pthread_cond_wait(ptr @lp_work, ptr @lp_lock)
  br label %wait
job:
  store i64 %g, ptr %seenp
  %active = load i64, ptr @lp_active
  %mine = icmp ult i64 %index, %active
  br i1 %mine, label %run, label %wait
run:                                    ; the job's fields, read under the lock that published them
  %fn = load ptr, ptr @lp_fn
  %ctx = load ptr, ptr @lp_ctx
  %n = load i64, ptr @lp_n
  %chunks = load i64, ptr @lp_chunks
  %tag = and i64 %g, 2147483647
  call i32 @pthread_mutex_unlock(ptr @lp_lock)
  call void @lp_run(i64 %tag, ptr %fn, ptr %ctx, i64 %n, i64 %chunks)
  call i32 @pthread_mutex_lock(ptr @lp_lock)
  br label %wait
}

; In a forked child only the forking thread exists: forget the workers and the locks' state.
define void @loom_parallel_after_fork() {
  call void @llvm.memset.p0.i64(ptr @lp_lock, i8 0, i64 64, i1 false)
  call void @llvm.memset.p0.i64(ptr @lp_submit, i8 0, i64 64, i1 false)
  call void @llvm.memset.p0.i64(ptr @lp_work, i8 0, i64 64, i1 false)
  call void @llvm.memset.p0.i64(ptr @lp_done, i8 0, i64 64, i1 false)
  store i64 0, ptr @lp_workers
  ret void
}

; Start workers until there are %want (holding lp_submit); returns how many there are.
define internal i64 @lp_start(i64 %want) {
entry:
  %tid = alloca i64, align 8
  br label %loop
loop:
  %w = load i64, ptr @lp_workers
  %enough = icmp sge i64 %w, %want
  br i1 %enough, label %done, label %create
create:
  %g = load i64, ptr @lp_generation
  %gs = shl i64 %g, 8
  %bits = or i64 %gs, %w
  %arg = inttoptr i64 %bits to ptr
  %rc = call i32 @pthread_create(ptr %tid, ptr null, ptr @lp_worker, ptr %arg)
  %ok = icmp eq i32 %rc, 0
  br i1 %ok, label %started, label %failed
started:
  %t = load i64, ptr %tid
  call i32 @pthread_detach(i64 %t)
  %w1 = add i64 %w, 1
  store i64 %w1, ptr @lp_workers
  br label %loop
failed:                                 ; no more threads: use those there are
  ret i64 %w
done:
  ret i64 %want
}

define i32 @loom_parallel_for(ptr %fn, ptr %ctx, i64 %n, ptr %err) {
entry:
  %threads = load atomic i64, ptr @lp_threads monotonic, align 8
  %few = icmp sle i64 %n, 1
  %single = icmp sle i64 %threads, 1
  %serial = or i1 %few, %single
  br i1 %serial, label %alone, label %try
try:
  %busy = call i32 @pthread_mutex_trylock(ptr @lp_submit)
  %got = icmp eq i32 %busy, 0
  br i1 %got, label %start, label %alone
alone:
  %any = icmp sgt i64 %n, 0
  br i1 %any, label %call_alone, label %nothing
call_alone:
  %st = call i32 %fn(ptr %ctx, i64 0, i64 %n, ptr %err)
  ret i32 %st
nothing:
  ret i32 0
start:
  %less = icmp slt i64 %n, %threads
  %t = select i1 %less, i64 %n, i64 %threads
  %want = sub i64 %t, 1
  %avail = call i64 @lp_start(i64 %want)
  ; 8 chunks per thread (a thread slowed by other processes takes fewer), at most n
  %all = add i64 %avail, 1
  %c8 = shl i64 %all, 3
  %cless = icmp slt i64 %n, %c8
  %chunks = select i1 %cless, i64 %n, i64 %c8
  call i32 @pthread_mutex_lock(ptr @lp_lock)
  %g = load i64, ptr @lp_generation
  %g1 = add i64 %g, 1
  %tag = and i64 %g1, 2147483647
  %first = shl i64 %tag, 32
  store ptr %fn, ptr @lp_fn
  store ptr %ctx, ptr @lp_ctx
  store i64 %n, ptr @lp_n
  store i64 %chunks, ptr @lp_chunks
  store atomic i64 0, ptr @lp_finished monotonic, align 8
  store atomic i64 9223372036854775807, ptr @lp_fail_chunk monotonic, align 8
  store i32 0, ptr @lp_status
  store i64 %avail, ptr @lp_active
  store atomic i64 %first, ptr @lp_next monotonic, align 8
  store atomic i64 %g1, ptr @lp_generation release, align 8   ; spinning workers read it unlocked
  call i32 @pthread_cond_broadcast(ptr @lp_work)
  call i32 @pthread_mutex_unlock(ptr @lp_lock)
  call void @lp_run(i64 %tag, ptr %fn, ptr %ctx, i64 %n, i64 %chunks)
  call i1 @lp_spin_until(ptr @lp_finished, i64 %chunks, i1 true)
  call i32 @pthread_mutex_lock(ptr @lp_lock)
  br label %wait
wait:                                   ; until the chunks workers took are finished too
  %finished = load atomic i64, ptr @lp_finished acquire, align 8
  %done = icmp eq i64 %finished, %chunks
  br i1 %done, label %finish, label %sleep
sleep:
  call i32 @pthread_cond_wait(ptr @lp_done, ptr @lp_lock)
  br label %wait
finish:
  %status = load i32, ptr @lp_status
  call i32 @pthread_mutex_unlock(ptr @lp_lock)
  %bad = icmp ne i32 %status, 0
  br i1 %bad, label %copy, label %out
copy:
  call void @llvm.memcpy.p0.p0.i64(ptr %err, ptr @lp_values, i64 32, i1 false)
  br label %out
out:
  call i32 @pthread_mutex_unlock(ptr @lp_submit)
  ret i32 %status
}
