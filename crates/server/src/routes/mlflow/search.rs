//! MLflow's search filter and `order_by` syntax (`metrics.rmse < 1 and params.model = "lr"`,
//! `tags."x y" LIKE 'a%'`, `attributes.status IN ('FINISHED', 'FAILED')`, `name ILIKE '%foo%'`)
//! over any entity that says what its metrics, params, tags and attributes are. A clause is
//! `entity.key comparator value`; clauses join with `AND` (MLflow has no `OR`). A key with no
//! entity is an attribute. Errors name the clause, as MLflow's do.

use super::wire::MlflowError;
use std::cmp::Ordering;

/// A value an entity holds or a filter compares with.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Str(String),
    Num(f64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

/// What a search can read of an entity.
pub trait Searchable {
    fn metric(&self, key: &str) -> Option<f64>;
    fn param(&self, key: &str) -> Option<&str>;
    fn tag(&self, key: &str) -> Option<&str>;
    fn attribute(&self, key: &str) -> Option<Val>;
    /// Values of a dataset field (`name`, `digest`, `context`) over the entity's datasets.
    fn dataset(&self, _key: &str) -> Vec<String> {
        Vec::new()
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

#[derive(Clone, Debug)]
pub struct Clause {
    kind: Kind,
    key: String,
    op: Op,
    values: Vec<Val>,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Num(f64),
    Sym(String),
    Open,
    Close,
    Comma,
}

fn tokens(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' || c == '`' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated quote {c} in {text:?}")),
                    Some(&d) if d == c => {
                        if chars.get(i + 1) == Some(&c) {
                            s.push(c);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some('\\') if chars.get(i + 1).is_some() => {
                        s.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(&d) => {
                        s.push(d);
                        i += 1;
                    }
                }
            }
            // A backtick or double quote right after `entity.` is part of a key.
            match (c, out.last_mut()) {
                ('`' | '"', Some(Tok::Word(w))) if w.ends_with('.') => w.push_str(&s),
                ('`', _) => out.push(Tok::Word(s)),
                _ => out.push(Tok::Quoted(s)),
            }
        } else if c == '(' {
            out.push(Tok::Open);
            i += 1;
        } else if c == ')' {
            out.push(Tok::Close);
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if "=!<>".contains(c) {
            let mut s = c.to_string();
            if chars.get(i + 1) == Some(&'=') {
                s.push('=');
                i += 1;
            }
            i += 1;
            out.push(Tok::Sym(s));
        } else if c.is_ascii_digit() || ((c == '-' || c == '.') && i + 1 < chars.len()) {
            let start = i;
            i += 1;
            // Digits, a point, an exponent and its sign.
            let continues = |i: usize| match chars[i] {
                '+' | '-' => matches!(chars[i - 1], 'e' | 'E'),
                c => c.is_ascii_alphanumeric() || c == '.',
            };
            while i < chars.len() && continues(i) {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            out.push(Tok::Num(
                s.parse().map_err(|_| format!("{s:?} is not a number"))?,
            ));
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || "_.:-/".contains(chars[i])) {
                i += 1;
            }
            out.push(Tok::Word(chars[start..i].iter().collect()));
        } else {
            return Err(format!("unexpected character {c:?}"));
        }
    }
    Ok(out)
}

fn entity(word: &str) -> Result<(Kind, String), String> {
    let (prefix, key) = match word.split_once('.') {
        Some((p, k)) => (p.to_ascii_lowercase(), k.to_owned()),
        None => return Ok((Kind::Attribute, word.to_owned())),
    };
    let kind = match prefix.as_str() {
        "metric" | "metrics" => Kind::Metric,
        "param" | "params" | "parameter" | "parameters" => Kind::Param,
        "tag" | "tags" => Kind::Tag,
        "attribute" | "attributes" | "attr" | "run" => Kind::Attribute,
        "dataset" | "datasets" => Kind::Dataset,
        _ => return Err(format!("invalid entity type '{prefix}'")),
    };
    if key.is_empty() {
        return Err(format!("'{word}' names no key"));
    }
    Ok((kind, key))
}

/// Parses a filter; an empty one matches everything.
pub fn parse(filter: &str) -> Result<Vec<Clause>, MlflowError> {
    parse_inner(filter)
        .map_err(|e| MlflowError::invalid(format!("Error on parsing filter '{filter}': {e}")))
}

fn parse_inner(filter: &str) -> Result<Vec<Clause>, String> {
    let toks = tokens(filter)?;
    let mut clauses = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if !clauses.is_empty() {
            match &toks[i] {
                Tok::Word(w) if w.eq_ignore_ascii_case("and") => i += 1,
                other => return Err(format!("expected AND, found {other:?}")),
            }
        }
        let Some(Tok::Word(w)) = toks.get(i) else {
            return Err("expected a key".into());
        };
        let (kind, key) = entity(w)?;
        i += 1;
        let word =
            |t: Option<&Tok>, s: &str| matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(s));
        let op = match toks.get(i) {
            Some(Tok::Sym(s)) => {
                i += 1;
                match s.as_str() {
                    "=" | "==" => Op::Eq,
                    "!=" => Op::Ne,
                    "<" => Op::Lt,
                    "<=" => Op::Le,
                    ">" => Op::Gt,
                    ">=" => Op::Ge,
                    other => return Err(format!("invalid comparator '{other}'")),
                }
            }
            t if word(t, "like") => {
                i += 1;
                Op::Like
            }
            t if word(t, "ilike") => {
                i += 1;
                Op::ILike
            }
            t if word(t, "in") => {
                i += 1;
                Op::In
            }
            t if word(t, "not") && word(toks.get(i + 1), "in") => {
                i += 2;
                Op::NotIn
            }
            t if word(t, "is") && word(toks.get(i + 1), "null") => {
                i += 2;
                Op::IsNull
            }
            t if word(t, "is") && word(toks.get(i + 1), "not") && word(toks.get(i + 2), "null") => {
                i += 3;
                Op::IsNotNull
            }
            other => {
                return Err(format!(
                    "expected a comparator after '{w}', found {other:?}"
                ))
            }
        };
        let mut values = Vec::new();
        match op {
            Op::IsNull | Op::IsNotNull => {}
            Op::In | Op::NotIn => {
                if toks.get(i) != Some(&Tok::Open) {
                    return Err("IN needs a list in parentheses".into());
                }
                i += 1;
                loop {
                    match toks.get(i) {
                        Some(Tok::Quoted(s)) => values.push(Val::Str(s.clone())),
                        Some(Tok::Num(n)) => values.push(Val::Num(*n)),
                        other => {
                            return Err(format!("expected a value in the list, found {other:?}"))
                        }
                    }
                    i += 1;
                    match toks.get(i) {
                        Some(Tok::Comma) => i += 1,
                        Some(Tok::Close) => {
                            i += 1;
                            break;
                        }
                        other => return Err(format!("expected , or ), found {other:?}")),
                    }
                }
            }
            _ => {
                match toks.get(i) {
                    Some(Tok::Quoted(s)) => values.push(Val::Str(s.clone())),
                    Some(Tok::Num(n)) => values.push(Val::Num(*n)),
                    other => return Err(format!("expected a value, found {other:?}")),
                }
                i += 1;
            }
        }
        if kind == Kind::Metric
            && !matches!(op, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge)
        {
            return Err(format!("invalid comparator for metric '{key}'"));
        }
        if kind == Kind::Metric && !matches!(values.first(), Some(Val::Num(_))) {
            return Err(format!("expected a number for metric '{key}'"));
        }
        clauses.push(Clause {
            kind,
            key,
            op,
            values,
        });
    }
    Ok(clauses)
}

/// SQL `LIKE`: `%` any run of characters, `_` any one character.
fn like(text: &str, pattern: &str, fold: bool) -> bool {
    let (t, p): (Vec<char>, Vec<char>) = match fold {
        true => (
            text.to_lowercase().chars().collect(),
            pattern.to_lowercase().chars().collect(),
        ),
        false => (text.chars().collect(), pattern.chars().collect()),
    };
    // Iterative wildcard match with backtracking to the last `%`.
    let (mut ti, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || (p[pi] != '%' && p[pi] == t[ti])) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '%')
}

fn compare(have: &Val, op: &Op, want: &[Val]) -> bool {
    let first = want.first();
    match (have, op, first) {
        (_, Op::IsNull, _) => false,
        (_, Op::IsNotNull, _) => true,
        (h, Op::In, _) => want.iter().any(|w| same(h, w)),
        (h, Op::NotIn, _) => !want.iter().any(|w| same(h, w)),
        (Val::Str(h), Op::Like, Some(Val::Str(w))) => like(h, w, false),
        (Val::Str(h), Op::ILike, Some(Val::Str(w))) => like(h, w, true),
        (h, op, Some(w)) => {
            let ord = match (h, w) {
                (Val::Num(a), Val::Num(b)) => a.partial_cmp(b),
                (Val::Num(a), Val::Str(b)) => b.parse::<f64>().ok().and_then(|b| a.partial_cmp(&b)),
                (Val::Str(a), Val::Num(b)) => a.parse::<f64>().ok().and_then(|a| a.partial_cmp(b)),
                (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
            };
            match (op, ord) {
                (Op::Eq, Some(o)) => o == Ordering::Equal,
                (Op::Ne, Some(o)) => o != Ordering::Equal,
                (Op::Ne, None) => true,
                (Op::Lt, Some(o)) => o == Ordering::Less,
                (Op::Le, Some(o)) => o != Ordering::Greater,
                (Op::Gt, Some(o)) => o == Ordering::Greater,
                (Op::Ge, Some(o)) => o != Ordering::Less,
                _ => false,
            }
        }
        _ => false,
    }
}

fn same(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Str(a), Val::Str(b)) => a == b,
        (Val::Num(a), Val::Num(b)) => a == b,
        (Val::Num(a), Val::Str(b)) | (Val::Str(b), Val::Num(a)) => b.parse::<f64>() == Ok(*a),
    }
}

/// Whether an entity meets every clause.
pub fn matches(entity: &impl Searchable, clauses: &[Clause]) -> bool {
    clauses.iter().all(|c| {
        let have = match c.kind {
            Kind::Metric => entity.metric(&c.key).map(Val::Num),
            Kind::Param => entity.param(&c.key).map(|v| Val::Str(v.to_owned())),
            Kind::Tag => entity.tag(&c.key).map(|v| Val::Str(v.to_owned())),
            Kind::Attribute => entity.attribute(&c.key),
            Kind::Dataset => {
                return entity
                    .dataset(&c.key)
                    .into_iter()
                    .any(|v| compare(&Val::Str(v), &c.op, &c.values))
            }
        };
        match have {
            Some(v) => compare(&v, &c.op, &c.values),
            None => c.op == Op::IsNull,
        }
    })
}

/// One `order_by` term.
#[derive(Clone, Debug)]
pub struct OrderBy {
    kind: Kind,
    key: String,
    ascending: bool,
}

pub fn order_by(terms: &[String]) -> Result<Vec<OrderBy>, MlflowError> {
    terms
        .iter()
        .filter(|t| !t.trim().is_empty())
        .map(|term| {
            let bad =
                |e: String| MlflowError::invalid(format!("Invalid order_by clause '{term}': {e}"));
            let toks = tokens(term).map_err(bad)?;
            let (first, rest) = toks.split_first().ok_or_else(|| bad("empty".into()))?;
            let Tok::Word(w) = first else {
                return Err(bad("expected a key".into()));
            };
            let (kind, key) = entity(w).map_err(bad)?;
            let ascending = match rest {
                [] => true,
                [Tok::Word(d)] if d.eq_ignore_ascii_case("asc") => true,
                [Tok::Word(d)] if d.eq_ignore_ascii_case("desc") => false,
                _ => return Err(bad("expected ASC or DESC".into())),
            };
            Ok(OrderBy {
                kind,
                key,
                ascending,
            })
        })
        .collect()
}

fn value_of(entity: &impl Searchable, term: &OrderBy) -> Option<Val> {
    match term.kind {
        Kind::Metric => entity.metric(&term.key).map(Val::Num),
        Kind::Param => entity.param(&term.key).map(|v| Val::Str(v.to_owned())),
        Kind::Tag => entity.tag(&term.key).map(|v| Val::Str(v.to_owned())),
        Kind::Attribute => entity.attribute(&term.key),
        Kind::Dataset => entity.dataset(&term.key).into_iter().next().map(Val::Str),
    }
}

/// Orders by the terms; a missing value sorts last either way, as MLflow's stores do.
pub fn compare_by(a: &impl Searchable, b: &impl Searchable, terms: &[OrderBy]) -> Ordering {
    for term in terms {
        let (x, y) = (value_of(a, term), value_of(b, term));
        let o = match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(Val::Num(x)), Some(Val::Num(y))) => x.total_cmp(&y),
            (Some(Val::Str(x)), Some(Val::Str(y))) => x.cmp(&y),
            (Some(Val::Num(_)), Some(Val::Str(_))) => Ordering::Less,
            (Some(Val::Str(_)), Some(Val::Num(_))) => Ordering::Greater,
        };
        let o = if term.ascending { o } else { o.reverse() };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// A page: `page_token` is the offset of the first item, as text.
pub fn page<T>(
    items: Vec<T>,
    max: usize,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), MlflowError> {
    let start = match token.filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| MlflowError::invalid(format!("Invalid page token '{t}'")))?,
    };
    let total = items.len();
    let end = start.saturating_add(max).min(total);
    let next = (end < total).then(|| end.to_string());
    Ok((
        items
            .into_iter()
            .skip(start)
            .take(end.saturating_sub(start))
            .collect(),
        next,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct E {
        metrics: BTreeMap<String, f64>,
        params: BTreeMap<String, String>,
        name: String,
    }

    impl Searchable for E {
        fn metric(&self, key: &str) -> Option<f64> {
            self.metrics.get(key).copied()
        }
        fn param(&self, key: &str) -> Option<&str> {
            self.params.get(key).map(String::as_str)
        }
        fn tag(&self, _: &str) -> Option<&str> {
            None
        }
        fn attribute(&self, key: &str) -> Option<Val> {
            (key == "run_name").then(|| Val::Str(self.name.clone()))
        }
    }

    fn e(rmse: f64, model: &str, name: &str) -> E {
        E {
            metrics: [("rmse".to_owned(), rmse)].into(),
            params: [("model".to_owned(), model.to_owned())].into(),
            name: name.into(),
        }
    }

    #[test]
    fn filters_compare_metrics_params_and_attributes() {
        let a = e(0.5, "lr", "first run");
        let f = parse("metrics.rmse < 1 and params.model = 'lr'").unwrap();
        assert!(matches(&a, &f));
        let f = parse("metrics.rmse >= 0.6").unwrap();
        assert!(!matches(&a, &f));
        let f =
            parse("attributes.run_name LIKE 'first%' AND params.`model` IN ('lr', 'rf')").unwrap();
        assert!(matches(&a, &f));
        let f = parse("run_name ILIKE '%RUN'").unwrap();
        assert!(matches(&a, &f));
        let f = parse("params.missing = 'x'").unwrap();
        assert!(!matches(&a, &f));
        let f = parse("metrics.rmse = -1e-3").unwrap();
        assert!(!matches(&a, &f));
    }

    #[test]
    fn bad_filters_are_invalid_parameter_values() {
        for bad in [
            "metrics.rmse LIKE 'a'",
            "foo.bar = 1",
            "metrics.rmse <",
            "params.a = 'x' or params.b = 'y'",
            "params.a = 'unterminated",
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code, "INVALID_PARAMETER_VALUE", "{bad}");
        }
    }

    #[test]
    fn order_by_puts_missing_values_last() {
        let a = e(0.5, "lr", "a");
        let b = e(0.2, "rf", "b");
        let terms = order_by(&["metrics.rmse ASC".into()]).unwrap();
        assert_eq!(compare_by(&b, &a, &terms), Ordering::Less);
        let terms = order_by(&["metrics.nothing DESC".into(), "params.model".into()]).unwrap();
        assert_eq!(compare_by(&a, &b, &terms), Ordering::Less);
        assert!(order_by(&["metrics.rmse SIDEWAYS".into()]).is_err());
    }

    #[test]
    fn like_matches_sql_wildcards() {
        assert!(like("abcde", "a%e", false));
        assert!(like("abcde", "a_c%", false));
        assert!(!like("abcde", "A%", false));
        assert!(like("abcde", "A%", true));
        assert!(like("a%b", "a%b", false));
        assert!(!like("ab", "a_b", false));
    }
}
