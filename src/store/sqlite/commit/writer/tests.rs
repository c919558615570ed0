//! The writer's batch logic: one job's failure or panic undone by its savepoint alone, and
//! faults SQLite really produces (`PRAGMA max_page_count` makes an insert fail with
//! `SQLITE_FULL`, which rolls the whole transaction back; a deferred foreign key makes `COMMIT`
//! itself fail).

use std::sync::mpsc::channel;

use axum::http::StatusCode;

use super::*;

fn no_maintenance(_: &Connection) -> rusqlite::Result<()> {
    Ok(())
}

/// A writer (without a syncer: `synchronous=FULL`) on a fresh database with one table, and
/// the poison it shares.
fn writer(dir: &std::path::Path) -> (Writer, Poison, std::path::PathBuf) {
    let path = dir.join("writer.db");
    let conn = crate::store::sqlite::open_connection(&path).expect("open");
    conn.execute_batch(
        "CREATE TABLE t (v BLOB NOT NULL);
         CREATE TABLE parent (id INTEGER PRIMARY KEY);
         CREATE TABLE child (
             parent_id INTEGER NOT NULL REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED
         );",
    )
    .expect("schema");
    // Room for a few small rows but not for a large one: that insert fails SQLITE_FULL.
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |row| row.get(0))
        .expect("page count");
    conn.pragma_update(None, "max_page_count", pages + 8)
        .expect("max_page_count");
    let poison = Poison::default();
    let parts = WriterParts {
        checkpointer: Checkpointer::start(&path, &poison),
        syncer: None,
        maintenance: Maintenance {
            every: Duration::from_secs(3_600),
            run: no_maintenance,
        },
        poison: poison.clone(),
    };
    (Writer::start(conn, parts, 16, 64), poison, path)
}

fn insert(bytes: i64) -> impl FnOnce(&Connection) -> Result<(), ApiError> + Send + 'static {
    move |conn| {
        conn.execute("INSERT INTO t (v) VALUES (zeroblob(?1))", [bytes])?;
        Ok(())
    }
}

fn rows(path: &std::path::Path) -> i64 {
    rows_in(path, "t")
}

fn rows_in(path: &std::path::Path, table: &str) -> i64 {
    let conn = crate::store::sqlite::open_connection(path).expect("open");
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
        row.get(0)
    })
    .expect("count")
}

/// A write job as the tests build them: any closure, boxed so one batch can mix them.
type TestJob = Box<dyn FnOnce(&Connection) -> Result<(), ApiError> + Send>;

/// Runs `jobs` as ONE batch (queued while a blocker holds the writer, then released together)
/// and returns each job's answer, in order.
async fn run_as_one_batch(writer: &Writer, jobs: Vec<TestJob>) -> Vec<Result<(), ApiError>> {
    let (release, released) = channel::<()>();
    let blocker = tokio::spawn({
        let writer = writer.clone();
        async move {
            writer
                .submit(move |_| {
                    let _ = released.recv();
                    Ok(())
                })
                .await
        }
    });
    while writer.stats().jobs < 1 {
        tokio::task::yield_now().await;
    }
    let mut handles = Vec::new();
    for job in jobs {
        let submitting = writer.clone();
        handles.push(tokio::spawn(async move { submitting.submit(job).await }));
        // One at a time, so the batch runs them in the order given.
        let queued = handles.len() as u64;
        while writer.stats().queued < queued {
            tokio::task::yield_now().await;
        }
    }
    release.send(()).expect("the blocker waits");
    blocker.await.expect("joined").expect("the blocker commits");
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.expect("joined"));
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_makes_sqlite_roll_back_the_batch_fails_every_job_and_nothing_commits_alone() {
    // Arrange: hold the writer in a job so that the next three queue into one batch.
    let dir = tempfile::tempdir().expect("temporary directory");
    let (writer, poison, path) = writer(dir.path());
    let (release, released) = channel::<()>();
    let blocker = tokio::spawn({
        let writer = writer.clone();
        async move {
            writer
                .submit(move |_| {
                    let _ = released.recv();
                    Ok(())
                })
                .await
        }
    });
    while writer.stats().jobs < 1 {
        tokio::task::yield_now().await;
    }
    let mut batch = Vec::new();
    for bytes in [100, 10_000_000, 100] {
        let writer = writer.clone();
        batch.push(tokio::spawn(
            async move { writer.submit(insert(bytes)).await },
        ));
    }
    while writer.stats().queued < 3 {
        tokio::task::yield_now().await;
    }

    // Act: the batch [small, too large for the database, small] runs.
    release.send(()).expect("the blocker waits");
    blocker.await.expect("joined").expect("the blocker commits");
    let mut statuses = Vec::new();
    for job in batch {
        let answer = job.await.expect("joined");
        statuses.push(answer.err().map(|error| error.status()));
    }

    // Assert: every job is refused with 503, none of them committed, and the writer refuses
    // whatever comes next.
    assert_eq!(
        statuses,
        vec![Some(StatusCode::SERVICE_UNAVAILABLE); 3],
        "every job of the lost batch is answered as failed"
    );
    assert!(poison.is_set());
    assert_eq!(rows(&path), 0, "no job of the lost batch committed");
    let later = writer.submit(insert(100)).await;
    assert_eq!(
        later.err().map(|error| error.status()),
        Some(StatusCode::SERVICE_UNAVAILABLE)
    );
    assert_eq!(rows(&path), 0);
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_writes_on_after_sqlite_rolled_back_its_transaction_commits_nothing() {
    // Arrange: a job that swallows the SQLITE_FULL (which rolled the transaction back) and
    // writes again: in autocommit, that insert would commit on its own.
    let dir = tempfile::tempdir().expect("temporary directory");
    let (writer, poison, path) = writer(dir.path());
    let careless = |conn: &Connection| {
        let _ = insert(10_000_000)(conn);
        let _ = insert(100)(conn);
        Ok(())
    };

    // Act
    let answer = writer.submit(careless).await;

    // Assert: refused, poisoned, and the second insert's commit was turned into a rollback.
    assert_eq!(
        answer.err().map(|error| error.status()),
        Some(StatusCode::SERVICE_UNAVAILABLE)
    );
    assert!(poison.is_set());
    assert_eq!(
        rows(&path),
        0,
        "nothing committed outside the writer's COMMIT"
    );
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_own_statement_fails_alone_leaves_the_writer_healthy() {
    // Arrange: a constraint failure undoes one statement only; SQLite keeps the transaction.
    let dir = tempfile::tempdir().expect("temporary directory");
    let (writer, poison, path) = writer(dir.path());
    let refused = |conn: &Connection| {
        conn.execute("INSERT INTO t (v) VALUES (NULL)", [])?;
        Ok(())
    };

    // Act
    let failed = writer.submit(refused).await;
    let next = writer.submit(insert(100)).await;

    // Assert: only that job failed (500: a bug, not a storage fault); the writer goes on.
    assert_eq!(
        failed.err().map(|error| error.status()),
        Some(StatusCode::INTERNAL_SERVER_ERROR)
    );
    assert!(next.is_ok(), "{next:?}");
    assert!(!poison.is_set());
    assert_eq!(rows(&path), 1);
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_savepoint_cannot_be_rolled_back_commits_nothing() {
    // Arrange: a job that writes, ends its own savepoint (so `ROLLBACK TO job` fails), and
    // fails: its insert could no longer be undone alone.
    let dir = tempfile::tempdir().expect("temporary directory");
    let (writer, poison, path) = writer(dir.path());
    let tangled = |conn: &Connection| -> Result<(), ApiError> {
        insert(100)(conn)?;
        conn.execute_batch("RELEASE job")?;
        Err(ApiError::internal(
            "the job fails after ending its savepoint",
        ))
    };

    // Act
    let answer = writer.submit(tangled).await;

    // Assert: the whole transaction was given up: refused, poisoned, nothing committed.
    assert_eq!(
        answer.err().map(|error| error.status()),
        Some(StatusCode::SERVICE_UNAVAILABLE)
    );
    assert!(poison.is_set());
    assert_eq!(rows(&path), 0, "the failed job's insert was not committed");
    writer.shutdown().await;
}

fn statuses(answers: &[Result<(), ApiError>]) -> Vec<Option<StatusCode>> {
    answers
        .iter()
        .map(|answer| answer.as_ref().err().map(ApiError::status))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_undoes_only_its_own_changes_and_the_rest_of_its_batch_commits() {
    // Arrange: a job that inserts two rows and then refuses (as a movement refuses after its
    // first update), between two jobs that succeed, all in one batch.
    let dir = tempfile::tempdir().expect("temporary directory");
    let (writer, poison, path) = writer(dir.path());
    let refusing: TestJob = Box::new(|conn| {
        insert(100)(conn)?;
        insert(100)(conn)?;
        Err(ApiError::detail(
            StatusCode::BAD_REQUEST,
            crate::error::ErrorCode::InsufficientFunds,
            "refused after writing",
        ))
    });
    let jobs: Vec<TestJob> = vec![Box::new(insert(100)), refusing, Box::new(insert(100))];

    // Act
    let answers = run_as_one_batch(&writer, jobs).await;

    // Assert: the refusing job gets its own error; its two rows are gone, the others' are
    // committed, in one commit for the whole batch (the blocker's is the first).
    assert_eq!(
        statuses(&answers),
        vec![None, Some(StatusCode::BAD_REQUEST), None]
    );
    assert_eq!(rows(&path), 2, "only the two succeeding jobs' rows");
    assert_eq!(
        writer.stats().commits,
        2,
        "the three jobs shared one commit"
    );
    assert!(!poison.is_set());
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_refuses_every_job_of_the_batch_and_nothing_is_visible() {
    // Arrange: three jobs that each succeed on their own, one of which leaves a deferred
    // foreign key unsatisfied: SQLite checks it at `COMMIT`, which then fails.
    let dir = tempfile::tempdir().expect("temporary directory");
    let (writer, poison, path) = writer(dir.path());
    let orphan: TestJob = Box::new(|conn| {
        conn.execute("INSERT INTO child (parent_id) VALUES (42)", [])?;
        Ok(())
    });
    let jobs: Vec<TestJob> = vec![Box::new(insert(100)), orphan, Box::new(insert(100))];

    // Act
    let answers = run_as_one_batch(&writer, jobs).await;

    // Assert: every job of the batch is answered 503 (its outcome is not known to be on disk),
    // nothing of it is visible, and the database refuses whatever comes next (fail-stop).
    assert_eq!(
        statuses(&answers),
        vec![Some(StatusCode::SERVICE_UNAVAILABLE); 3]
    );
    assert!(
        poison
            .cause()
            .is_some_and(|cause| cause.contains("COMMIT failed")),
        "{:?}",
        poison.cause()
    );
    assert_eq!(rows(&path), 0, "no job of the failed commit is visible");
    assert_eq!(rows_in(&path, "child"), 0);
    let later = writer.submit(insert(100)).await;
    assert_eq!(
        later.err().map(|error| error.status()),
        Some(StatusCode::SERVICE_UNAVAILABLE)
    );
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_job_gets_an_error_and_its_batch_and_the_writer_go_on() {
    // Arrange: a job that writes and then panics, between two that succeed, in one batch.
    let dir = tempfile::tempdir().expect("temporary directory");
    let (writer, poison, path) = writer(dir.path());
    let panicking: TestJob = Box::new(|conn| {
        insert(100)(conn)?;
        panic!("a bug in a write job");
    });
    let jobs: Vec<TestJob> = vec![Box::new(insert(100)), panicking, Box::new(insert(100))];

    // Act
    let answers = run_as_one_batch(&writer, jobs).await;
    let next = writer.submit(insert(100)).await;

    // Assert: the writer caught the panic and rolled the job back to its savepoint: its caller
    // gets 500 (a bug, not a storage fault), the batch's other jobs commit, and the writer
    // thread survives to run the next job.
    assert_eq!(
        statuses(&answers),
        vec![None, Some(StatusCode::INTERNAL_SERVER_ERROR), None]
    );
    assert!(next.is_ok(), "{next:?}");
    assert!(!poison.is_set());
    assert_eq!(rows(&path), 3, "the panicking job's row was rolled back");
    writer.shutdown().await;
}
