; Tapes for reverse-mode differentiation in compiled code (see dialects/ad.py): a growable stack
; of bytes. The forward sweep pushes the values the reverse sweep needs; the reverse sweep pops
; them in reverse order. Linked into every module that uses them (runtime/jit.py), then inlined.
;   struct tape { i8* data; i64 size; i64 capacity; }
; Running out of memory is reported, never a crash: `loom_tape_new` and `loom_tape_push` return
; null when an allocation fails (the tape given to a push is then left as it was, still owned by the
; caller), and convert-ad-to-llvm turns a null into the "out of memory" run-time error, whose
; failing branch frees the call's buffers and tapes. `loom_tape_reserve` is a hint: when its
; allocation fails (or its size is absurd), the tape stays as it was and grows push by push.

declare ptr @malloc(i64)
declare ptr @realloc(ptr, i64)
declare void @free(ptr)
declare void @llvm.memcpy.p0.p0.i64(ptr noalias, ptr noalias, i64, i1)

define ptr @loom_tape_new() {
entry:
  %t = call ptr @malloc(i64 24)
  %failed = icmp eq ptr %t, null
  br i1 %failed, label %oom, label %init
oom:
  ret ptr null
init:
  store ptr null, ptr %t
  %size = getelementptr inbounds i64, ptr %t, i64 1
  store i64 0, ptr %size
  %cap = getelementptr inbounds i64, ptr %t, i64 2
  store i64 0, ptr %cap
  ret ptr %t
}

define ptr @loom_tape_push(ptr %t, ptr %src, i64 %n) {
entry:
  %sizep = getelementptr inbounds i64, ptr %t, i64 1
  %capp = getelementptr inbounds i64, ptr %t, i64 2
  %size = load i64, ptr %sizep
  %cap = load i64, ptr %capp
  %need = add i64 %size, %n
  %full = icmp ugt i64 %need, %cap
  br i1 %full, label %grow, label %copy
grow:
  %wrapped = icmp ult i64 %need, %size            ; size + n does not fit in 64 bits
  br i1 %wrapped, label %oom, label %resize
resize:
  %double = shl i64 %cap, 1                       ; (wraps to a smaller value: then `need` wins)
  %c1 = icmp ugt i64 %double, %need
  %c2 = select i1 %c1, i64 %double, i64 %need
  %c3 = icmp ugt i64 %c2, 4096
  %newcap = select i1 %c3, i64 %c2, i64 4096
  %old = load ptr, ptr %t
  %new = call ptr @realloc(ptr %old, i64 %newcap)
  %failed = icmp eq ptr %new, null
  br i1 %failed, label %oom, label %grown
grown:
  store ptr %new, ptr %t
  store i64 %newcap, ptr %capp
  br label %copy
copy:
  %data = load ptr, ptr %t
  %dst = getelementptr inbounds i8, ptr %data, i64 %size
  call void @llvm.memcpy.p0.p0.i64(ptr %dst, ptr %src, i64 %n, i1 false)
  store i64 %need, ptr %sizep
  ret ptr %t
oom:                                              ; the tape is unchanged (realloc kept the old block)
  ret ptr null
}

define ptr @loom_tape_reserve(ptr %t, i64 %n) {
entry:
  %sizep = getelementptr inbounds i64, ptr %t, i64 1
  %capp = getelementptr inbounds i64, ptr %t, i64 2
  %size = load i64, ptr %sizep
  %cap = load i64, ptr %capp
  %need = add i64 %size, %n
  %full = icmp ugt i64 %need, %cap
  %wrapped = icmp ult i64 %need, %size            ; a negative or wrapped size: no reservation
  %n_negative = icmp slt i64 %n, 0
  %ignore = or i1 %wrapped, %n_negative
  br i1 %full, label %check, label %done
check:
  br i1 %ignore, label %done, label %grow
grow:
  %old = load ptr, ptr %t
  %new = call ptr @realloc(ptr %old, i64 %need)
  %failed = icmp eq ptr %new, null
  br i1 %failed, label %done, label %grown        ; a hint: without it the tape grows as it goes
grown:
  store ptr %new, ptr %t
  store i64 %need, ptr %capp
  br label %done
done:
  ret ptr %t
}

define ptr @loom_tape_pop(ptr %t, ptr %dst, i64 %n) {
  %sizep = getelementptr inbounds i64, ptr %t, i64 1
  %size = load i64, ptr %sizep
  %top = sub i64 %size, %n
  %data = load ptr, ptr %t
  %src = getelementptr inbounds i8, ptr %data, i64 %top
  call void @llvm.memcpy.p0.p0.i64(ptr %dst, ptr %src, i64 %n, i1 false)
  store i64 %top, ptr %sizep
  ret ptr %t
}

define void @loom_tape_free(ptr %t) {
  %data = load ptr, ptr %t
  call void @free(ptr %data)
  call void @free(ptr %t)
  ret void
}
