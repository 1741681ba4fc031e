use super::*;

/// TestResolveFenceposts (deployment/util), upstream cases.
#[test]
fn fenceposts_follow_upstream_rounding() {
    let p = |s: &str| Some(IntOrString::String(s.into()));
    let i = |v: i32| Some(IntOrString::Int(v));
    assert_eq!(resolve_fenceposts(p("25%").as_ref(), p("25%").as_ref(), 10), (3, 2));
    assert_eq!(resolve_fenceposts(p("0%").as_ref(), p("0%").as_ref(), 10), (0, 1), "both 0: maxUnavailable 1");
    assert_eq!(resolve_fenceposts(i(0).as_ref(), i(0).as_ref(), 10), (0, 1));
    assert_eq!(resolve_fenceposts(p("50%").as_ref(), p("50%").as_ref(), 1), (1, 0));
    assert_eq!(resolve_fenceposts(p("10%").as_ref(), p("10%").as_ref(), 1), (1, 0), "surge rounds up, unavailable down");
    assert_eq!(resolve_fenceposts(i(2).as_ref(), p("34%").as_ref(), 3), (2, 1));
}
