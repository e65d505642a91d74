; Tapes for reverse-mode differentiation in compiled code (see dialects/ad.py): a growable stack
; of bytes. The forward sweep pushes the values the reverse sweep needs; the reverse sweep pops
; them in reverse order. Linked into every module that uses them (runtime/jit.py), then inlined.
;   struct tape { i8* data; i64 size; i64 capacity; }

declare ptr @malloc(i64)
declare ptr @realloc(ptr, i64)
declare void @free(ptr)
declare void @llvm.memcpy.p0.p0.i64(ptr noalias, ptr noalias, i64, i1)

define ptr @loom_tape_new() {
  %t = call ptr @malloc(i64 24)
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
  %double = shl i64 %cap, 1
  %c1 = icmp ugt i64 %double, %need
  %c2 = select i1 %c1, i64 %double, i64 %need
  %c3 = icmp ugt i64 %c2, 4096
  %newcap = select i1 %c3, i64 %c2, i64 4096
  %old = load ptr, ptr %t
  %new = call ptr @realloc(ptr %old, i64 %newcap)
  store ptr %new, ptr %t
  store i64 %newcap, ptr %capp
  br label %copy
copy:
  %data = load ptr, ptr %t
  %dst = getelementptr inbounds i8, ptr %data, i64 %size
  call void @llvm.memcpy.p0.p0.i64(ptr %dst, ptr %src, i64 %n, i1 false)
  store i64 %need, ptr %sizep
  ret ptr %t
}

define ptr @loom_tape_reserve(ptr %t, i64 %n) {
entry:
  %sizep = getelementptr inbounds i64, ptr %t, i64 1
  %capp = getelementptr inbounds i64, ptr %t, i64 2
  %size = load i64, ptr %sizep
  %cap = load i64, ptr %capp
  %need = add i64 %size, %n
  %full = icmp ugt i64 %need, %cap
  br i1 %full, label %grow, label %done
grow:
  %old = load ptr, ptr %t
  %new = call ptr @realloc(ptr %old, i64 %need)
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
