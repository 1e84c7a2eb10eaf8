//! What the whole workspace defines: every function by name, with its tracebound attribute, and
//! every struct field's type, so a boundary in one crate can see a fn or a field of another.

use std::collections::HashMap;

use quote::ToTokens;
use syn::visit::Visit;

use crate::analysis::expr;
use crate::source::{Imports, SourceFile};

/// The attributes that make a fn capture the context when it is called.
pub(crate) const TRACEBOUND_ATTRIBUTES: [&str; 4] = [
    "traced_task",
    "traced_consumer",
    "traced_producer",
    "traced_blocking",
];

#[derive(Default)]
pub(crate) struct Index {
    fns: HashMap<String, Vec<FnInfo>>,
    fields: HashMap<String, Vec<String>>,
    /// What struct literals put into fields of this name: `Orders { client: … }`.
    inits: HashMap<String, Vec<String>>,
}

#[derive(Clone, Copy)]
struct FnInfo {
    /// Takes `self`: called as `x.name()`.
    method: bool,
    attribute: Option<&'static str>,
    instrument: bool,
    /// Returns a future wrapped so that it carries the caller's context.
    carries: bool,
}

/// How a fn is called, which says which fns of that name it can be.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// `name(…)`: a free fn.
    Free,
    /// `Type::name(…)`, `Self::name(…)`, `module::name(…)`: any fn.
    Path,
    /// `x.name(…)`: a method taking `self`.
    Method,
}

/// What a call to a fn of this name does with the caller's context.
pub(crate) enum Callee {
    /// Every fn of that name has this tracebound attribute.
    Traced(&'static str),
    /// Every fn of that name returns a future it wrapped to carry the context.
    Wraps,
    /// Defined in the workspace, with `#[instrument]` (its span starts at the first poll).
    Instrumented,
    /// Defined in the workspace, and nothing carries the context.
    Plain,
    /// Several fns of that name, some carrying and some not.
    Ambiguous,
    /// Not defined in the workspace.
    Outside,
}

impl Index {
    pub fn build<'a>(files: impl IntoIterator<Item = &'a SourceFile>) -> Self {
        let mut index = Index::default();
        for file in files {
            let mut collect = Collect {
                index: &mut index,
                imports: &file.imports,
            };
            collect.visit_file(&file.ast);
        }
        index
    }

    pub fn callee(&self, name: &str, call: Call) -> Callee {
        let fns: Vec<FnInfo> = self
            .fns
            .get(name)
            .into_iter()
            .flatten()
            .filter(|f| match call {
                Call::Free => !f.method,
                Call::Path => true,
                Call::Method => f.method,
            })
            .copied()
            .collect();
        let Some(&first) = fns.first() else {
            return Callee::Outside;
        };
        if let Some(attribute) = first.attribute
            && fns.iter().all(|f| f.attribute.is_some())
        {
            return Callee::Traced(attribute);
        }
        if fns.iter().all(|f| f.carries) {
            return Callee::Wraps;
        }
        if fns.iter().any(|f| f.attribute.is_some() || f.carries) {
            return Callee::Ambiguous;
        }
        if fns.iter().all(|f| f.instrument) {
            return Callee::Instrumented;
        }
        Callee::Plain
    }

    /// Whether the workspace defines a fn of this name.
    pub fn defines(&self, name: &str) -> bool {
        self.fns.contains_key(name)
    }

    /// The types of struct fields of this name, as written.
    pub fn field_types(&self, name: &str) -> &[String] {
        self.fields.get(name).map_or(&[], Vec::as_slice)
    }

    /// The expressions struct literals give fields of this name, as source text.
    pub fn field_inits(&self, name: &str) -> &[String] {
        self.inits.get(name).map_or(&[], Vec::as_slice)
    }
}

struct Collect<'i> {
    index: &'i mut Index,
    imports: &'i Imports,
}

impl Collect<'_> {
    fn add(&mut self, sig: &syn::Signature, attrs: &[syn::Attribute], body: Option<&syn::Block>) {
        let name = &sig.ident;
        let method = sig.receiver().is_some();
        let attribute = attrs.iter().find_map(|a| {
            let last = a.path().segments.last()?.ident.to_string();
            TRACEBOUND_ATTRIBUTES.into_iter().find(|t| *t == last)
        });
        let instrument = attrs.iter().any(|a| {
            a.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "instrument")
        });
        let carries = body
            .and_then(tail)
            .is_some_and(|e| expr::wrapper(e, self.imports).is_some());
        self.index
            .fns
            .entry(name.to_string())
            .or_default()
            .push(FnInfo {
                method,
                attribute,
                instrument,
                carries,
            });
    }
}

/// The value a block ends with.
fn tail(block: &syn::Block) -> Option<&syn::Expr> {
    match block.stmts.last()? {
        syn::Stmt::Expr(e, None) => Some(e),
        syn::Stmt::Expr(syn::Expr::Return(r), _) => r.expr.as_deref(),
        _ => None,
    }
}

impl<'ast> Visit<'ast> for Collect<'_> {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.add(&f.sig, &f.attrs, Some(&f.block));
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.add(&f.sig, &f.attrs, Some(&f.block));
        syn::visit::visit_impl_item_fn(self, f);
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        // A declaration without a body says nothing about the impls.
        if let Some(body) = &f.default {
            self.add(&f.sig, &f.attrs, Some(body));
        }
        syn::visit::visit_trait_item_fn(self, f);
    }

    fn visit_field(&mut self, field: &'ast syn::Field) {
        if let Some(name) = &field.ident {
            self.index
                .fields
                .entry(name.to_string())
                .or_default()
                .push(expr::type_text(&field.ty, self.imports));
        }
        syn::visit::visit_field(self, field);
    }

    fn visit_field_value(&mut self, value: &'ast syn::FieldValue) {
        if let syn::Member::Named(name) = &value.member {
            self.index
                .inits
                .entry(name.to_string())
                .or_default()
                .push(value.expr.to_token_stream().to_string());
        }
        syn::visit::visit_field_value(self, value);
    }
}
