//! What the whole workspace defines: every function by name, with its tracebound attribute and
//! what its body does with a context, and every struct field's type and initialisers, so a
//! boundary in one crate can see a fn or a field of another.

use std::collections::HashMap;

use syn::Expr;
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

/// Calls that inject a context into a carrier: tracebound's, and OpenTelemetry's propagators'.
pub(crate) const INJECTS: [&str; 3] = ["inject", "inject_context", "inject_using"];
/// Calls that extract a context from a carrier.
pub(crate) const EXTRACTS: [&str; 4] = [
    "extract",
    "extract_with",
    "extract_using",
    "extract_with_context",
];
/// tracebound's HTTP client pieces that inject every request.
pub(crate) const CLIENT_INJECTORS: [&str; 3] = [
    "reqwest::Middleware",
    "reqwest::inject",
    "tower::ClientLayer",
];

#[derive(Default)]
pub(crate) struct Index<'a> {
    fns: HashMap<String, Vec<FnInfo<'a>>>,
    /// Field name → (struct, type as written with paths resolved).
    fields: HashMap<String, Vec<(String, String)>>,
    /// Field name → (struct, what a struct literal puts in it, that file's imports).
    inits: HashMap<String, Vec<(String, &'a Expr, &'a Imports)>>,
}

#[derive(Clone, Copy)]
struct FnInfo<'a> {
    /// The file it is defined in.
    file: &'a str,
    /// Takes `self`: called as `x.name()`.
    method: bool,
    attribute: Option<&'static str>,
    instrument: bool,
    /// A sync fn that returns a future wrapped so that it carries the caller's context.
    carries: bool,
    /// Its body injects a context into a carrier.
    injects: bool,
    /// Its body extracts a context from a carrier, or it is a `#[traced_consumer]`.
    extracts: bool,
    /// Its body builds an HTTP client or request with tracebound's middleware or layer.
    client: bool,
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

/// What a fn's body does, asked of every fn of a name.
#[derive(Clone, Copy)]
pub(crate) enum Does {
    Inject,
    Extract,
    BuildTracedClient,
}

impl<'a> Index<'a> {
    pub fn build(files: impl IntoIterator<Item = &'a SourceFile>) -> Self {
        let mut index = Index::default();
        for file in files {
            let mut collect = Collect {
                index: &mut index,
                file,
                imports: &file.imports,
                structs: Vec::new(),
            };
            collect.visit_file(&file.ast);
        }
        index
    }

    /// The fns a call can be; for a bare name, those of the calling file when it has one
    /// (what is in scope there), else all of that name.
    fn candidates(&self, name: &str, call: Call, from: &str) -> Vec<FnInfo<'a>> {
        let fns: Vec<FnInfo<'a>> = self
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
        if call == Call::Free && fns.iter().any(|f| f.file == from) {
            return fns.into_iter().filter(|f| f.file == from).collect();
        }
        fns
    }

    /// `from` is the calling file.
    pub fn callee(&self, name: &str, call: Call, from: &str) -> Callee {
        let fns = self.candidates(name, call, from);
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

    /// Whether every fn of this name does it; `None` when the workspace has none.
    pub fn does(&self, name: &str, call: Call, from: &str, what: Does) -> Option<bool> {
        let fns = self.candidates(name, call, from);
        if fns.is_empty() {
            return None;
        }
        Some(fns.iter().all(|f| match what {
            Does::Inject => f.injects,
            Does::Extract => f.extracts,
            Does::BuildTracedClient => f.client,
        }))
    }

    /// Whether the workspace defines a fn of this name.
    pub fn defines(&self, name: &str) -> bool {
        self.fns.contains_key(name)
    }

    /// The type of a field of `owner`; without an owner, the type of every field of that name
    /// when they agree.
    pub fn field_type(&self, owner: Option<&str>, field: &str) -> Option<&str> {
        let fields = self.fields.get(field)?;
        match owner {
            Some(owner) => fields
                .iter()
                .find(|(s, _)| s == owner)
                .map(|(_, t)| t.as_str()),
            None => {
                let first = &fields.first()?.1;
                fields
                    .iter()
                    .all(|(_, t)| t == first)
                    .then_some(first.as_str())
            }
        }
    }

    /// What struct literals put into a field of `owner` (of any struct without an owner, when
    /// only one struct has that field), with the imports of the file each is in.
    pub fn field_inits(&self, owner: Option<&str>, field: &str) -> Vec<(&'a Expr, &'a Imports)> {
        let Some(inits) = self.inits.get(field) else {
            return Vec::new();
        };
        let one_struct = inits.iter().all(|(s, _, _)| *s == inits[0].0);
        inits
            .iter()
            .filter(|(s, _, _)| owner.map_or(one_struct, |o| s == o))
            .map(|&(_, e, i)| (e, i))
            .collect()
    }
}

struct Collect<'i, 'a> {
    index: &'i mut Index<'a>,
    file: &'a SourceFile,
    /// The imports of the module being walked.
    imports: &'a Imports,
    /// The structs whose fields are being walked.
    structs: Vec<String>,
}

impl<'a> Collect<'_, 'a> {
    fn add(&mut self, sig: &syn::Signature, attrs: &[syn::Attribute], body: Option<&syn::Block>) {
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
        // An async fn's body runs at its first poll, wherever that is: wrapping a future
        // there carries the poller's context, not the caller's.
        let carries = sig.asyncness.is_none()
            && body.and_then(tail).is_some_and(|e| {
                !matches!(e, Expr::Await(_)) && expr::wrapper(e, self.imports).is_some()
            });
        let names: Vec<String> = body
            .map(|b| expr::calls(b).iter().map(|site| site.name()).collect())
            .unwrap_or_default();
        let has = |list: &[&str]| names.iter().any(|n| list.contains(&n.as_str()));
        let client =
            body.is_some_and(|b| expr::names_tracebound(b, self.imports, &CLIENT_INJECTORS));
        self.index
            .fns
            .entry(sig.ident.to_string())
            .or_default()
            .push(FnInfo {
                file: &self.file.name,
                method: sig.receiver().is_some(),
                attribute,
                instrument,
                carries,
                injects: has(&INJECTS),
                extracts: has(&EXTRACTS) || attribute == Some("traced_consumer"),
                client,
            });
    }
}

/// The value a block ends with.
fn tail(block: &syn::Block) -> Option<&Expr> {
    match block.stmts.last()? {
        syn::Stmt::Expr(e, None) => Some(e),
        syn::Stmt::Expr(Expr::Return(r), _) => r.expr.as_deref(),
        _ => None,
    }
}

impl<'a> Visit<'a> for Collect<'_, 'a> {
    fn visit_item_fn(&mut self, f: &'a syn::ItemFn) {
        self.add(&f.sig, &f.attrs, Some(&f.block));
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'a syn::ImplItemFn) {
        self.add(&f.sig, &f.attrs, Some(&f.block));
        syn::visit::visit_impl_item_fn(self, f);
    }

    fn visit_trait_item_fn(&mut self, f: &'a syn::TraitItemFn) {
        // A declaration without a body says nothing about the impls.
        if let Some(body) = &f.default {
            self.add(&f.sig, &f.attrs, Some(body));
        }
        syn::visit::visit_trait_item_fn(self, f);
    }

    fn visit_item_mod(&mut self, m: &'a syn::ItemMod) {
        let outer = self.imports;
        if let Some(imports) = self.file.modules.get(&expr::start(m)) {
            self.imports = imports;
        }
        syn::visit::visit_item_mod(self, m);
        self.imports = outer;
    }

    fn visit_item_struct(&mut self, s: &'a syn::ItemStruct) {
        self.structs.push(s.ident.to_string());
        syn::visit::visit_item_struct(self, s);
        self.structs.pop();
    }

    fn visit_field(&mut self, field: &'a syn::Field) {
        if let (Some(name), Some(owner)) = (&field.ident, self.structs.last()) {
            self.index
                .fields
                .entry(name.to_string())
                .or_default()
                .push((owner.clone(), expr::type_text(&field.ty, self.imports)));
        }
        syn::visit::visit_field(self, field);
    }

    fn visit_expr_struct(&mut self, s: &'a syn::ExprStruct) {
        let owner = expr::last_ident(&s.path);
        for value in &s.fields {
            if let syn::Member::Named(name) = &value.member {
                self.index.inits.entry(name.to_string()).or_default().push((
                    owner.clone(),
                    &value.expr,
                    self.imports,
                ));
            }
        }
        syn::visit::visit_expr_struct(self, s);
    }
}
