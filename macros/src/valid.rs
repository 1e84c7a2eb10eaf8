//! Semantic rules on a parsed attribute and function, each a sentence-long error at the
//! user's tokens.

use crate::ast::{Function, Shape};
use crate::options::TaskOptions;
use darling::Error;

pub fn task(options: &TaskOptions, function: &Function) -> darling::Result<()> {
    let mut errors = Error::accumulator();
    let sig = &function.item.sig;
    if let Some(token) = &sig.constness {
        errors.push(
            Error::custom("#[traced_task] cannot go on a `const fn`: a span starts at run time")
                .with_span(token),
        );
    }
    if function.shape == Shape::Sync {
        let message = "#[traced_task] needs an `async fn`, or a fn returning `impl Future` or \
                       `Pin<Box<dyn Future>>`; for synchronous work use #[traced_blocking]";
        errors.push(match &sig.output {
            syn::ReturnType::Type(_, ty) => Error::custom(message).with_span(ty),
            syn::ReturnType::Default => Error::custom(message).with_span(&sig.ident),
        });
    }
    skips(options, function, &mut errors);
    errors.finish()
}

fn skips(options: &TaskOptions, function: &Function, errors: &mut darling::error::Accumulator) {
    let Some(skip) = &options.skip else {
        return;
    };
    if options.skip_all.is_present() {
        errors.push(
            Error::custom("`skip_all` already skips every parameter; remove `skip(…)`")
                .with_span(&options.skip_all.span()),
        );
    }
    let params = function.param_names();
    for path in skip.iter() {
        let Some(name) = path.get_ident().map(ToString::to_string).or_else(|| {
            // `self` is a keyword, so it is not an identifier to syn.
            (path.segments.len() == 1).then(|| path.segments[0].ident.to_string())
        }) else {
            errors.push(Error::custom("expected a parameter name").with_span(path));
            continue;
        };
        if !params.contains(&name) {
            let message = match did_you_mean(&name, &params) {
                Some(close) => format!(
                    "`{name}` is not a parameter of `{}`; did you mean `{close}`?",
                    function.name()
                ),
                None => format!("`{name}` is not a parameter of `{}`", function.name()),
            };
            errors.push(Error::custom(message).with_span(path));
        }
    }
}

/// The candidate closest to `name`, if any is close enough to be a likely typo.
pub fn did_you_mean<'a>(name: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.as_str())
}
