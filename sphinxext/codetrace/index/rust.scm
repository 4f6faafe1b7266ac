; Nodes the Rust frontend (index/rust.py) turns into facts. One query, compiled once; each capture name is a
; fact family. Scoping (which function, impl or module a node belongs to) is worked out from the node's
; ancestors in Python, because a query cannot say "the innermost enclosing function".

[
  (function_item)
  (function_signature_item)
  (struct_item)
  (enum_item)
  (union_item)
  (trait_item)
  (impl_item)
  (mod_item)
  (type_item)
  (associated_type)
  (const_item)
  (static_item)
  (macro_definition)
] @item

[
  (use_declaration)
  (extern_crate_declaration)
] @use

(call_expression) @call

(macro_invocation) @macro

[
  (let_declaration)
  (let_condition)
  (for_expression)
  (match_expression)
  (assignment_expression)
] @binding

(closure_expression) @closure

(return_expression) @return

(await_expression) @await

(try_expression) @try

(struct_expression) @literal
