;; Inner products of one vector with every row of a table, 4 lanes at a time (WASM SIMD).
;; Retrieval's hot loop: JavaScript's scalar loop managed ~0.4-0.7 G multiply-adds/s on
;; this machine, too slow to score a catalogue per event at thousands of events/s.
;; Build: node scripts/build-wasm.mjs  (wat → dots.wasm, committed)
(module
  (memory (export "memory") 1)
  ;; out[r] = dot(u, table[r]) for r in [1, n); d a multiple of 4; pointers in bytes
  (func (export "dots") (param $u i32) (param $table i32) (param $d i32) (param $n i32) (param $out i32)
    (local $r i32) (local $j i32) (local $row i32) (local $bytes i32) (local $acc v128)
    (local.set $bytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $r (i32.const 1))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $r) (local.get $n)))
        (local.set $row (i32.add (local.get $table) (i32.mul (local.get $r) (local.get $bytes))))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $end
          (loop $lanes
            (br_if $end (i32.ge_u (local.get $j) (local.get $bytes)))
            (local.set $acc (f32x4.add (local.get $acc)
              (f32x4.mul (v128.load (i32.add (local.get $u) (local.get $j)))
                         (v128.load (i32.add (local.get $row) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $lanes)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $r) (i32.const 2)))
          (f32.add (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
                   (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))
)
