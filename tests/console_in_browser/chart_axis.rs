//! The balance chart's time axis (issue #12 item 4): no two labels alike, never a millisecond,
//! and the unit (seconds, minutes, hours, days, months, years) chosen by the span shown.

use super::{BROWSER_LOCK, Browser, spawn_app};

/// Whether an axis label has the shape a span calls for.
type LabelShape<'a> = &'a dyn Fn(&str) -> bool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_axis_never_repeats_a_label_and_its_unit_follows_the_span() {
    let _one_at_a_time = BROWSER_LOCK.lock().await;
    let Some(browser) = Browser::launch("pages-axis").await else {
        return;
    };
    let app = spawn_app().await;
    browser
        .goto(&format!("{}/api-auth/login/", app.address))
        .await;
    browser.wait_for("#login-form").await;

    // Two movements 300 ms apart, drawn as a chart; and the axis alone at many spans.
    let result = browser
        .script(
            "return import('/static/js/chart.js').then((chart) => {
               const at = Date.UTC(2026, 11, 3, 9, 30, 12, 100);
               const rows = [0, 300].map((ms, i) => ({ id: i + 1, created_at: new Date(at + ms).toISOString(), balance_after: '10.00' }));
               const holder = document.createElement('section');
               holder.id = 'axis-chart';
               document.querySelector('main').replaceChildren(holder);
               holder.append(chart.balanceChart(chart.pointsFrom(rows)));
               const S = 1000, M = 60 * S, H = 60 * M, D = 24 * H;
               const spans = { minute: M, hours: 5 * H, days: 30 * H, weeks: 20 * D, months: 200 * D, years: 3 * 365 * D };
               const axes = Object.fromEntries(Object.entries(spans).map(([name, span]) => [name, chart.timeAxis(at, at + span, 10).map((t) => t.label)]));
               return new Promise((resolve) => setTimeout(() => resolve({
                 drawn: [...document.querySelectorAll('#axis-chart .chart-time')].map((e) => e.textContent),
                 axes,
               }), 300));
             })",
        )
        .await;

    let drawn: Vec<String> = serde_json::from_value(result["drawn"].clone()).expect("labels");
    assert!(drawn.len() >= 2, "{result}");
    assert!(
        drawn.iter().all(|label| !label.contains('.')),
        "no millisecond labels: {drawn:?}"
    );
    let mut unique = drawn.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), drawn.len(), "{drawn:?}");
    let is_clock =
        |label: &str| label.chars().all(|c| c.is_ascii_digit() || c == ':') && label.contains(':');
    let is_year = |label: &str| label.len() == 4 && label.chars().all(|c| c.is_ascii_digit());
    let is_month = |label: &str| label.len() == 3 && label.chars().all(|c| c.is_ascii_alphabetic());
    let is_day = |label: &str| {
        label
            .split_once(' ')
            .is_some_and(|(month, day)| is_month(month) && day.parse::<u32>().is_ok())
    };
    // A time of day, optionally after its day ("Dec 4 12:00") when the short form repeats.
    let is_time_of_day = |label: &str| match label.rsplit_once(' ') {
        Some((day, clock)) => is_day(day) && is_clock(clock),
        None => is_clock(label),
    };
    let checks: [(&str, LabelShape<'_>); 6] = [
        ("minute", &|label: &str| is_clock(label)),
        ("hours", &|label: &str| is_clock(label) && label.len() == 5),
        ("days", &|label: &str| {
            is_time_of_day(label) || is_day(label)
        }),
        ("weeks", &|label: &str| is_day(label) || is_month(label)),
        ("months", &|label: &str| is_month(label) || is_year(label)),
        ("years", &|label: &str| {
            is_year(label)
                || label
                    .split_once(' ')
                    .is_some_and(|(month, year)| is_month(month) && is_year(year))
        }),
    ];
    for (span, shape) in checks {
        let labels: Vec<String> =
            serde_json::from_value(result["axes"][span].clone()).expect("labels");
        assert!(labels.len() >= 2, "{span}: {labels:?}");
        let mut sorted = labels.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            labels.len(),
            "{span} repeats a label: {labels:?}"
        );
        assert!(
            labels.iter().all(|label| shape(label)),
            "{span}: {labels:?}"
        );
    }
}
