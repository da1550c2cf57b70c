using System.Data.Common;
using System.Diagnostics;
using System.Threading.Channels;
using Cocoon.Ledger.Data;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Cocoon.Ledger.Accounts;

/// <summary>
/// The single writer: operations queue up and are committed in groups, many per transaction (a group commit).
/// One transaction per operation costs a WAL sync each and caps SQLite at a few thousand a second; a group pays
/// that once. Each operation still gets its own result or its own error, and idempotency keys still rule:
/// operations run in order, so a repeated key later in a batch sees the first one's row.
/// Several writers (gateway processes) may share one database: a batch reads without locks and its write checks
/// what it read, so when another writer got there first (or PostgreSQL reports a deadlock or a serialization
/// failure) the batch is rolled back and run again, counted in <see cref="Stats"/>. If a batch still fails (a
/// foreign row holding a key, a lost connection), every operation in it is retried alone, so one bad operation
/// cannot take others down with it. A crash anywhere before the commit loses the whole batch and nothing else:
/// no caller was answered, and their retries carry the same keys.
/// </summary>
internal sealed partial class LedgerWriter : IAsyncDisposable
{
    private readonly Channel<Operation> _queue = Channel.CreateUnbounded<Operation>(new UnboundedChannelOptions { SingleReader = true });
    private readonly LedgerDatabase _database;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly int _maxBatch;
    private readonly Task _loop;
    private readonly BatchPlan _plan = new();
    private DbConnection? _connection;
    private LedgerSql? _sql;
    private long _batches;
    private long _operations;
    private long _commitTicks;
    private long _retries;
    private long _deadlocks;

    /// <summary>The benchmark's comparison only: see <see cref="LedgerSql.LockOnRead"/>. Set before the first operation.</summary>
    internal bool LockOnRead { get; set; }

    /// <summary>Tests only: runs after a batch's writes went out and before its commit, with the writer's connection (to kill it there).</summary>
    internal Action<DbConnection>? BeforeCommit { get; set; }

    /// <summary>How many times a batch (or one operation) is run before it is given up: conflicts are short-lived.</summary>
    private const int Attempts = 5;

    public LedgerWriter(LedgerDatabase database, int maxBatch, TimeProvider time, ILogger logger)
    {
        _database = database;
        _maxBatch = maxBatch;
        _time = time;
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Queues an operation; the task completes after its transaction committed (or with its own error).</summary>
    public Task<T> Run<T>(Func<LedgerBatch, T> operation, CancellationToken cancellationToken) => Run(operation, null, cancellationToken);

    /// <summary>
    /// As <see cref="Run{T}(Func{LedgerBatch, T}, CancellationToken)"/>, with what the operation will read declared up
    /// front so that the batch reads it together with the others' (one round trip on PostgreSQL).
    /// </summary>
    public Task<T> Run<T>(Func<LedgerBatch, T> operation, Action<BatchPlan>? declare, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var op = new Operation<T>(operation, declare, cancellationToken);
        if (_loop.IsFaulted)
        {
            throw new InvalidOperationException("The ledger writer stopped after an unexpected error; see the log (event 5102).", _loop.Exception);
        }

        if (!_queue.Writer.TryWrite(op))
        {
            throw new ObjectDisposedException(nameof(LedgerWriter), "The ledger is shutting down.");
        }

        return op.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Transactions committed, operations in them, time spent inside transactions (committed or not), batches run
    /// again after a conflict with another writer, and of those the deadlocks and serialization failures PostgreSQL
    /// reported (for the benchmark).
    /// </summary>
    internal WriterStats Stats => new(
        Interlocked.Read(ref _batches), Interlocked.Read(ref _operations), TimeSpan.FromTicks(Interlocked.Read(ref _commitTicks)),
        Interlocked.Read(ref _retries), Interlocked.Read(ref _deadlocks));

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        try
        {
            await _loop;
        }
        catch (Exception) when (_loop.IsFaulted)
        {
            // Already logged and reported to every caller.
        }

        CloseConnection();
    }

    private async Task RunAsync()
    {
        try
        {
            await DrainAsync();
        }
        catch (Exception ex)
        {
            // Nothing above should throw (each failure completes its operations); if something does, fail what is
            // queued rather than leave callers waiting forever, and refuse new work.
            LogWriterStopped(_logger, ex);
            _queue.Writer.TryComplete(ex);
            while (_queue.Reader.TryRead(out var op))
            {
                op.Fail(ex);
            }

            throw;
        }
    }

    private async Task DrainAsync()
    {
        var batch = new List<Operation>(_maxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var op))
            {
                if (op.CancellationToken.IsCancellationRequested)
                {
                    op.Cancel();
                }
                else
                {
                    batch.Add(op);
                }
            }

            if (batch.Count == 0)
            {
                continue;
            }

            if (!await CommitWithRetriesAsync(batch))
            {
                foreach (var op in batch)
                {
                    await CommitAloneAsync(op);
                }
            }

            batch.Clear();
        }
    }

    /// <summary>Commits the batch, running it again after conflicts; false when it should be retried one operation at a time.</summary>
    private async Task<bool> CommitWithRetriesAsync(List<Operation> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await EnsureOpenAsync();
                Commit(batch);
                return true;
            }
            catch (Exception ex) when (attempt < Attempts && IsConflict(ex))
            {
                CountRetry(ex);
            }
            catch (Exception ex)
            {
                LogBatchFailed(_logger, batch.Count, ex);
                CloseConnection();
                return false;
            }
        }
    }

    private async Task CommitAloneAsync(Operation op)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await EnsureOpenAsync();
                Commit([op]);
                return;
            }
            catch (Exception ex) when (attempt < Attempts && IsConflict(ex))
            {
                // Another writer changed what this operation read (or inserted its key): run again, and return the
                // stored result.
                CountRetry(ex);
            }
            catch (Exception ex)
            {
                CloseConnection();
                op.Fail(ex is LedgerConflictException ? new InvalidOperationException(ex.Message, ex) : ex);
                return;
            }
        }
    }

    private void Commit(List<Operation> batch)
    {
        var results = new object?[batch.Count];
        var errors = new Exception?[batch.Count];
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var transaction = _sql!.Begin();
            var ledger = new LedgerBatch(_sql, _time.GetUtcNow().ToUnixTimeMilliseconds());
            _plan.Clear();
            foreach (var op in batch)
            {
                op.Declare(_plan);
            }

            ledger.Prefetch(_plan);
            for (var i = 0; i < batch.Count; i++)
            {
                try
                {
                    results[i] = batch[i].Execute(ledger);
                }
                catch (Exception ex) when (IsRefusal(ex))
                {
                    errors[i] = ex;
                }
            }

            if (!ledger.Write())
            {
                throw new LedgerConflictException();
            }

            BeforeCommit?.Invoke(_connection!);
            transaction.Commit();
        }
        finally
        {
            Interlocked.Add(ref _commitTicks, Stopwatch.GetElapsedTime(started).Ticks);
        }

        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _operations, batch.Count);

        for (var i = 0; i < batch.Count; i++)
        {
            if (errors[i] is { } error)
            {
                batch[i].Fail(error);
            }
            else
            {
                batch[i].Complete(results[i]);
            }
        }
    }

    /// <summary>Errors an operation raises before it writes anything: the batch goes on without it.</summary>
    private static bool IsRefusal(Exception ex) =>
        ex is InsufficientFundsException or HoldClosedException or HoldNotFoundException or ArgumentException;

    /// <summary>Another writer got there first: the same batch, run again on what is now committed, can succeed.</summary>
    private static bool IsConflict(Exception ex) => ex switch
    {
        LedgerConflictException => true,
        SqliteException sqlite => sqlite.SqliteExtendedErrorCode is 2067 or 1555,
        PostgresException postgres => postgres.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.DeadlockDetected
            or PostgresErrorCodes.SerializationFailure,
        _ => false,
    };

    private void CountRetry(Exception ex)
    {
        Interlocked.Increment(ref _retries);
        if (ex is PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure })
        {
            Interlocked.Increment(ref _deadlocks);
        }
    }

    private async Task EnsureOpenAsync()
    {
        if (_sql is not null)
        {
            return;
        }

        await _database.MigrateAsync(CancellationToken.None);
        _connection = await _database.OpenConnectionAsync(writer: true, CancellationToken.None);
        _sql = new LedgerSql(_connection, _database.Provider) { LockOnRead = LockOnRead };
    }

    private void CloseConnection()
    {
        _sql?.Dispose();
        _sql = null;
        _connection?.Dispose();
        _connection = null;
    }

    [LoggerMessage(EventId = LogEvents.Writer + 1, Level = LogLevel.Warning, Message = "A ledger batch of {Count} operations failed; retrying each alone")]
    private static partial void LogBatchFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(EventId = LogEvents.Writer + 2, Level = LogLevel.Critical, Message = "The ledger writer stopped")]
    private static partial void LogWriterStopped(ILogger logger, Exception exception);

    private abstract class Operation(CancellationToken cancellationToken)
    {
        public CancellationToken CancellationToken { get; } = cancellationToken;

        public abstract object? Execute(LedgerBatch batch);

        public abstract void Declare(BatchPlan plan);

        public abstract void Complete(object? result);

        public abstract void Fail(Exception error);

        public abstract void Cancel();
    }

    private sealed class Operation<T>(Func<LedgerBatch, T> run, Action<BatchPlan>? declare, CancellationToken cancellationToken) : Operation(cancellationToken)
    {
        private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<T> Task => _completion.Task;

        public override object? Execute(LedgerBatch batch) => run(batch);

        public override void Declare(BatchPlan plan) => declare?.Invoke(plan);

        public override void Complete(object? result) => _completion.TrySetResult((T)result!);

        public override void Fail(Exception error) => _completion.TrySetException(error);

        public override void Cancel() => _completion.TrySetCanceled(CancellationToken);
    }
}

/// <summary>What the writer has done so far (see <see cref="LedgerWriter.Stats"/>).</summary>
internal readonly record struct WriterStats(long Batches, long Operations, TimeSpan InTransactions, long Retries, long Deadlocks);

/// <summary>A batch's write found that another writer changed what the batch read; the batch is run again.</summary>
internal sealed class LedgerConflictException()
    : InvalidOperationException("Another ledger writer changed rows this batch read (a hold closed, a key taken, a balance spent) and the change kept conflicting.");
