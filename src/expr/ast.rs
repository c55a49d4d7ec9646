//! The expression tree. Input: nodes built by `parse.rs`. Output: `Expr`, the parsed form
//! of one `${{ ... }}` that `eval.rs` evaluates and that callers query for the variables
//! and namespaces it reads. Guarantee: every node carries the byte range of its source
//! text, and no tree is deeper than `MAX_DEPTH`, so walking one never exhausts the stack.

use super::ExprError;
use super::scope::Namespace;
use super::value::Value;

/// The deepest tree `parse` accepts (and the deepest bracket nesting).
pub(crate) const MAX_DEPTH: usize = 64;

/// A byte range in the parsed text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loc {
    pub start: usize,
    pub end: usize,
}

impl Loc {
    pub fn new(start: usize, end: usize) -> Loc {
        Loc {
            start,
            end: end.max(start),
        }
    }

    /// From the start of `self` to the end of `other`.
    pub fn to(self, other: Loc) -> Loc {
        Loc::new(self.start, other.end)
    }
}

/// A parsed `${{ ... }}` expression, with the text it was parsed from.
#[derive(Clone, Debug)]
pub struct Expr {
    pub(crate) src: String,
    pub(crate) root: Node,
}

impl Expr {
    /// The text this expression was parsed from (what was between `${{` and `}}`).
    pub fn source(&self) -> &str {
        &self.src
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub kind: Kind,
    pub loc: Loc,
    depth: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    Neg,
    Pos,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    Concat,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::FloorDiv => "//",
            BinOp::Mod => "%",
            BinOp::Pow => "**",
            BinOp::Concat => "~",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::In => "in",
            CmpOp::NotIn => "not in",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogicOp {
    And,
    Or,
}

/// One argument of a filter or test call: `x` or `name=x`.
#[derive(Clone, Debug)]
pub(crate) struct Arg {
    pub name: Option<String>,
    pub value: Node,
    pub loc: Loc,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Const(Value),
    List(Vec<Node>),
    Dict(Vec<(Node, Node)>),
    /// A bare identifier: a namespace root or the shorthand for `variables.NAME`.
    Name(String),
    Attr {
        target: Box<Node>,
        name: String,
        name_loc: Loc,
    },
    Index {
        target: Box<Node>,
        index: Box<Node>,
    },
    Slice {
        target: Box<Node>,
        bounds: [Option<Box<Node>>; 3],
    },
    Unary {
        op: UnaryOp,
        operand: Box<Node>,
    },
    Binary {
        op: BinOp,
        op_loc: Loc,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    Logic {
        op: LogicOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    /// `a < b <= c`: Python chaining, each operand evaluated once.
    Compare {
        first: Box<Node>,
        rest: Vec<(CmpOp, Loc, Node)>,
    },
    Cond {
        then: Box<Node>,
        cond: Box<Node>,
        otherwise: Option<Box<Node>>,
    },
    Filter {
        target: Box<Node>,
        name: String,
        name_loc: Loc,
        args: Vec<Arg>,
    },
    Test {
        target: Box<Node>,
        name: String,
        name_loc: Loc,
        negated: bool,
        args: Vec<Arg>,
    },
}

impl Kind {
    fn children(&self) -> Vec<&Node> {
        match self {
            Kind::Const(_) | Kind::Name(_) => Vec::new(),
            Kind::List(items) => items.iter().collect(),
            Kind::Dict(pairs) => pairs.iter().flat_map(|(k, v)| [k, v]).collect(),
            Kind::Attr { target, .. } => vec![target],
            Kind::Index { target, index } => vec![target, index],
            Kind::Slice { target, bounds } => std::iter::once(&**target)
                .chain(bounds.iter().flatten().map(|b| &**b))
                .collect(),
            Kind::Unary { operand, .. } => vec![operand],
            Kind::Binary { lhs, rhs, .. } | Kind::Logic { lhs, rhs, .. } => vec![lhs, rhs],
            Kind::Compare { first, rest } => std::iter::once(&**first)
                .chain(rest.iter().map(|(_, _, n)| n))
                .collect(),
            Kind::Cond {
                then,
                cond,
                otherwise,
            } => [&**then, &**cond]
                .into_iter()
                .chain(otherwise.as_deref())
                .collect(),
            Kind::Filter { target, args, .. } | Kind::Test { target, args, .. } => {
                std::iter::once(&**target)
                    .chain(args.iter().map(|a| &a.value))
                    .collect()
            }
        }
    }
}

impl Node {
    /// Builds a node, refusing trees deeper than `MAX_DEPTH`.
    pub fn new(kind: Kind, loc: Loc) -> Result<Node, ExprError> {
        let depth = 1 + kind.children().iter().map(|c| c.depth).max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(ExprError::new(
                loc,
                format!("expression nests deeper than {MAX_DEPTH} levels"),
            )
            .with_help("split it into several variables"));
        }
        Ok(Node { kind, loc, depth })
    }

    /// Calls `f` on this node and every node below it, in source order.
    pub fn walk(&self, f: &mut dyn FnMut(&Node)) {
        f(self);
        for child in self.kind.children() {
            child.walk(f);
        }
    }
}

/// Variable names an expression reads (through `variables.X` or shorthand `X`), with their
/// byte ranges.
pub fn variable_refs(expr: &Expr) -> Vec<(String, usize, usize)> {
    let mut refs = Vec::new();
    expr.root.walk(&mut |node| match &node.kind {
        Kind::Name(name) if Namespace::from_root(name).is_none() => {
            refs.push((name.clone(), node.loc.start, node.loc.end));
        }
        Kind::Attr { target, name, .. } if is_variables(target) => {
            refs.push((name.clone(), node.loc.start, node.loc.end));
        }
        Kind::Index { target, index } if is_variables(target) => {
            if let Kind::Const(Value::Str(name)) = &index.kind {
                refs.push((name.clone(), node.loc.start, node.loc.end));
            }
        }
        _ => {}
    });
    refs
}

fn is_variables(node: &Node) -> bool {
    matches!(&node.kind, Kind::Name(n) if n == Namespace::Variables.root())
}

/// Whether an expression mentions a namespace at all. For `Variables` the shorthand `X`
/// counts as a mention.
pub fn uses_namespace(expr: &Expr, ns: Namespace) -> bool {
    let mut found = false;
    expr.root.walk(&mut |node| {
        if let Kind::Name(name) = &node.kind {
            found |= match Namespace::from_root(name) {
                Some(root) => root == ns,
                None => ns == Namespace::Variables,
            };
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    #[test]
    fn variable_refs_list_names_with_ranges() {
        let src = "variables.A * B + variables['C'] + backends.gpu.nodes[N].index + L.x";
        let expr = parse(src).unwrap_or_else(|e| panic!("{e:?}"));
        let found: Vec<(String, &str)> = variable_refs(&expr)
            .into_iter()
            .map(|(name, start, end)| (name, &src[start..end]))
            .collect();
        let want = [
            ("A", "variables.A"),
            ("B", "B"),
            ("C", "variables['C']"),
            ("N", "N"),
            ("L", "L"),
        ];
        let want: Vec<(String, &str)> = want.iter().map(|(n, t)| (n.to_string(), *t)).collect();
        assert_eq!(found, want);
        assert_eq!(expr.source(), src);
    }

    #[test]
    fn namespaces_are_detected() {
        let expr = parse("task.a.nodes[0].name ~ X").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(uses_namespace(&expr, Namespace::Task));
        assert!(uses_namespace(&expr, Namespace::Variables));
        assert!(!uses_namespace(&expr, Namespace::Backends));
        let expr = parse("{'task': 1}.task").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(!uses_namespace(&expr, Namespace::Task));
        assert!(!uses_namespace(&expr, Namespace::Variables));
    }
}
