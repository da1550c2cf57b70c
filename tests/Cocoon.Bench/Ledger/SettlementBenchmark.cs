using System.Diagnostics;
using System.Globalization;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Checks;
using Cocoon.Ledger.Data;
using Cocoon.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cocoon.Bench.Ledger;

/// <summary>
/// `./cocoon bench ledger`: settlements per second on a SQLite file. One settlement is a job's money path: a hold,
/// then a settle that pays the provider, the network fee and rounding (9 in 10) or a release (1 in 10).
/// The group-committing writer is measured against its peer in the same run: the same SQL with one transaction
/// per operation (Ledger:MaxBatch = 1). Each mode runs Reps times and the best run counts (the machine is shared);
/// the rate per CPU-second is printed too because on a loaded machine the wall-clock rate mostly measures the
/// neighbours. Both ledgers must pass the invariant check afterwards, or the benchmark fails.
/// <para>
/// Then the scale-out shape: one PostgreSQL server (Cocoon.Testing's, as the ledger's PostgreSQL tests use) shared by
/// two gateway processes (this program again, `ledger-gateway`), each with its own group-committing writer and half
/// the jobs in flight, settling at the same time on the same accounts. It prints their settlements/s together beside
/// the SQLite single-gateway figure, where the CPU went (the two gateways, the PostgreSQL server, the idle rest) and
/// how often a batch was run again because the other gateway got there first (of those, PostgreSQL's deadlocks).
/// Then the same again with the payers' balances locked FOR UPDATE when a batch reads them (held to the commit), the
/// design the writer does not use, measured beside it rather than guessed.
/// </para>
/// COCOON_BENCH_LEDGER_SECONDS (default 4) and COCOON_BENCH_LEDGER_CONCURRENCY (default 256) override the run.
/// </summary>
public static class SettlementBenchmark
{
    private const int Reps = 3;
    private const int Users = 1000;

    public static async Task RunAsync(BenchContext bench)
    {
        ArgumentNullException.ThrowIfNull(bench);
        var ct = bench.CancellationToken;
        var seconds = Setting("COCOON_BENCH_LEDGER_SECONDS", 4);
        var concurrency = Setting("COCOON_BENCH_LEDGER_CONCURRENCY", 256);
        var load = File.Exists("/proc/loadavg") ? $", load average {(await File.ReadAllTextAsync("/proc/loadavg", ct)).Split(' ')[0]}" : "";
        Console.WriteLine($"SQLite (WAL, synchronous=NORMAL), hold + settle 90% / release 10%, {concurrency} jobs in flight, {seconds}s per run, best of {Reps}, {Environment.ProcessorCount} cores{load}");

        var grouped = await BestAsync("group commit (MaxBatch 512)", 512, seconds, concurrency, ct);
        var naive = await BestAsync("one transaction per operation", 1, seconds, concurrency, ct);
        var ratio = grouped.SettlementsPerSecond / Math.Max(naive.SettlementsPerSecond, 1e-9);
        Console.WriteLine($"  ratio {ratio:F1}x; goal >= 10,000 settlements/s: {(grouped.SettlementsPerSecond >= 10_000 ? "met" : "not met")} on this machine now");

        PostgresResult? postgres = null;
        PostgresResult? locking = null;
        if (PostgresServer.Unavailable is { } missing)
        {
            Console.WriteLine($"  PostgreSQL, two gateways: not measured: {missing}");
        }
        else
        {
            postgres = await PostgresBestAsync(seconds, concurrency, lockOnRead: false, ct);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  PostgreSQL, two gateways {postgres.SettlementsPerSecond,8:N0} settlements/s  ({postgres.SettlementsPerSecond / Math.Max(grouped.SettlementsPerSecond, 1e-9):F2}x SQLite one gateway); goal >= 10,000: {(postgres.SettlementsPerSecond >= 10_000 ? "met" : "not met")}"));
            Console.WriteLine(postgres.WhereTheTimeGoes());

            // The alternative the writer does not take: balances locked when a batch reads them, held to its commit.
            locking = await PostgresBestAsync(seconds, concurrency, lockOnRead: true, ct);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  PostgreSQL, two gateways, payers locked FOR UPDATE at read {locking.SettlementsPerSecond,8:N0} settlements/s ({locking.SettlementsPerSecond / Math.Max(postgres.SettlementsPerSecond, 1e-9):F2}x without read locks)"));
            Console.WriteLine(locking.WhereTheTimeGoes());
        }

        var path = await bench.WriteJsonAsync("ledger", new { benchmark = "ledger-settlements", seconds, concurrency, cores = Environment.ProcessorCount, load, grouped, naive, ratio, postgres, postgresLockingReads = locking });
        Console.WriteLine($"  {path}");
    }

    private static async Task<ModeResult> BestAsync(string name, int maxBatch, int seconds, int concurrency, CancellationToken ct)
    {
        ModeResult? best = null;
        for (var rep = 0; rep < Reps; rep++)
        {
            var result = await MeasureAsync(name, maxBatch, seconds, concurrency, ct);
            if (!result.CheckOk)
            {
                throw new InvalidOperationException($"{name}: the ledger is inconsistent after the run: {result.Check}");
            }

            if (best is null || result.SettlementsPerSecond > best.SettlementsPerSecond)
            {
                best = result;
            }
        }

        Console.WriteLine(best!.Line());
        return best;
    }

    private static async Task<ModeResult> MeasureAsync(string name, int maxBatch, int seconds, int concurrency, CancellationToken ct)
    {
        using var dir = new TempDir("cocoon-bench-ledger");
        var database = new LedgerDatabase($"Data Source={dir.File("ledger.db")}");
        var ledger = new JournalLedger(database, Options.Create(new LedgerOptions { MaxBatch = maxBatch }), TimeProvider.System, NullLogger<JournalLedger>.Instance);
        try
        {
            await Task.WhenAll(Enumerable.Range(0, Users).Select(u =>
                ledger.CreditAsync(AccountId.User(u), 1_000_000_000_000, AccountId.TonHotWallet, $"fund:{u}", ct)));

            var jobs = new SettlementLoad(ledger, concurrency, "job", ct);
            await Task.Delay(TimeSpan.FromSeconds(1), ct); // warm-up: JIT, statement preparation, page cache
            var before = ledger.WriterStats;
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            jobs.Measuring = true;
            await Task.Delay(TimeSpan.FromSeconds(seconds), ct);
            jobs.Measuring = false;
            var elapsed = clock.Elapsed;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
            var after = ledger.WriterStats;
            var counted = jobs.Counted;
            await jobs.StopAsync();
            await ledger.DisposeAsync();

            var report = await LedgerChecker.CheckAsync(database, ct);
            var perTransaction = (double)(after.Operations - before.Operations) / Math.Max(after.Batches - before.Batches, 1);
            return new ModeResult(name, maxBatch, counted, elapsed.TotalSeconds, counted / elapsed.TotalSeconds,
                counted / Math.Max(cpu.TotalSeconds, 1e-9), perTransaction, after.Retries - before.Retries, report.Ok, report.Summary);
        }
        finally
        {
            await ledger.DisposeAsync();
            SqliteConnection.ClearAllPools();
        }
    }

    private static async Task<PostgresResult> PostgresBestAsync(int seconds, int concurrency, bool lockOnRead, CancellationToken ct)
    {
        PostgresResult? best = null;
        for (var rep = 0; rep < Reps; rep++)
        {
            var result = await MeasurePostgresAsync(seconds, concurrency, lockOnRead, ct);
            if (!result.CheckOk)
            {
                throw new InvalidOperationException($"PostgreSQL: the ledger is inconsistent after the run: {result.Check}");
            }

            if (best is null || result.SettlementsPerSecond > best.SettlementsPerSecond)
            {
                best = result;
            }
        }

        return best!;
    }

    /// <summary>One run: a fresh server, the accounts funded (and the schema migrated) here, then two gateway processes.</summary>
    private static async Task<PostgresResult> MeasurePostgresAsync(int seconds, int concurrency, bool lockOnRead, CancellationToken ct)
    {
        await using var server = await PostgresServer.StartAsync(ct);
        var database = new LedgerDatabase(server.ConnectionString());
        var setup = new JournalLedger(database, Options.Create(new LedgerOptions { MaxBatch = 512 }), TimeProvider.System, NullLogger<JournalLedger>.Instance);
        await Task.WhenAll(Enumerable.Range(0, Users).Select(u =>
            setup.CreditAsync(AccountId.User(u), 1_000_000_000_000, AccountId.TonHotWallet, $"fund:{u}", ct)));
        await setup.DisposeAsync();

        var gateways = Enumerable.Range(0, 2).Select(i => StartGateway(server.ConnectionString(), i, concurrency / 2, lockOnRead)).ToList();
        try
        {
            foreach (var gateway in gateways)
            {
                await ExpectAsync(gateway, "ready", ct);
            }

            await Task.Delay(TimeSpan.FromSeconds(1), ct); // warm-up with both gateways settling
            var pgBefore = server.CpuSeconds();
            var clock = Stopwatch.StartNew();
            foreach (var gateway in gateways)
            {
                await gateway.StandardInput.WriteLineAsync("go");
                await gateway.StandardInput.FlushAsync(ct);
            }

            await Task.Delay(TimeSpan.FromSeconds(seconds), ct);
            foreach (var gateway in gateways)
            {
                await gateway.StandardInput.WriteLineAsync("stop");
                await gateway.StandardInput.FlushAsync(ct);
            }

            var elapsed = clock.Elapsed.TotalSeconds;
            var pgCpu = server.CpuSeconds() - pgBefore;
            var results = new List<GatewayResult>();
            foreach (var gateway in gateways)
            {
                var fields = (await ExpectAsync(gateway, "result", ct)).Split(' ');
                results.Add(new GatewayResult(long.Parse(fields[1], CultureInfo.InvariantCulture), double.Parse(fields[2], CultureInfo.InvariantCulture),
                    double.Parse(fields[3], CultureInfo.InvariantCulture), double.Parse(fields[4], CultureInfo.InvariantCulture), double.Parse(fields[5], CultureInfo.InvariantCulture),
                    long.Parse(fields[6], CultureInfo.InvariantCulture), long.Parse(fields[7], CultureInfo.InvariantCulture),
                    double.Parse(fields[8], CultureInfo.InvariantCulture), double.Parse(fields[9], CultureInfo.InvariantCulture)));
            }

            foreach (var gateway in gateways)
            {
                await gateway.WaitForExitAsync(ct);
            }

            var report = await LedgerChecker.CheckAsync(database, ct);
            var total = results.Sum(r => r.Settlements);
            return new PostgresResult(total, elapsed, total / elapsed, results, pgCpu, Environment.ProcessorCount, report.Ok, report.Summary);
        }
        finally
        {
            foreach (var gateway in gateways)
            {
                if (!gateway.HasExited)
                {
                    gateway.Kill(entireProcessTree: true);
                }

                gateway.Dispose();
            }
        }
    }

    private static Process StartGateway(string connectionString, int index, int concurrency, bool lockOnRead)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };

        // A gateway runs for days with its hot path fully optimised; a process seconds old would be measured while it
        // still runs unoptimised (tier-0) code and recompiles in the background: compile everything optimised at once.
        info.Environment["DOTNET_TieredCompilation"] = "0";
        info.ArgumentList.Add(GatewayCommand);
        info.ArgumentList.Add(connectionString);
        info.ArgumentList.Add(index.ToString(CultureInfo.InvariantCulture));
        info.ArgumentList.Add(concurrency.ToString(CultureInfo.InvariantCulture));
        info.ArgumentList.Add(lockOnRead ? "lock" : "optimistic");
        return Process.Start(info) ?? throw new InvalidOperationException("the gateway process did not start");
    }

    private static async Task<string> ExpectAsync(Process gateway, string word, CancellationToken ct)
    {
        while (await gateway.StandardOutput.ReadLineAsync(ct) is { } line)
        {
            if (line.StartsWith(word, StringComparison.Ordinal))
            {
                return line;
            }
        }

        throw new InvalidOperationException($"a gateway process ended before it said '{word}' (exit code {(gateway.HasExited ? gateway.ExitCode : -1)})");
    }

    /// <summary>The argument that makes this program one of the two gateways of the PostgreSQL run.</summary>
    public const string GatewayCommand = "ledger-gateway";

    /// <summary>
    /// One gateway of the PostgreSQL run (a child process): settles on the shared database with its own writer, says
    /// "ready" once warm, counts between "go" and "stop" on stdin, prints "result settlements seconds cpu-seconds ops/transaction
    /// ms-in-transactions retries deadlocks jit-ms gc-pause-ms" and exits.
    /// </summary>
    public static async Task<int> RunGatewayAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var (connectionString, index, concurrency) = (args[0], args[1], int.Parse(args[2], CultureInfo.InvariantCulture));
        var database = new LedgerDatabase(connectionString);
        var ledger = new JournalLedger(database, Options.Create(new LedgerOptions { MaxBatch = 512 }), TimeProvider.System, NullLogger<JournalLedger>.Instance)
        {
            LockAccountsOnRead = args.Length > 3 && args[3] == "lock",
        };
        var jobs = new SettlementLoad(ledger, concurrency, "gw" + index, CancellationToken.None);
        if (Environment.GetEnvironmentVariable("COCOON_BENCH_DEBUG") is { Length: > 0 })
        {
            _ = Task.Run(async () =>
            {
                while (true)
                {
                    await Task.Delay(1000);
                    await Console.Error.WriteLineAsync($"gateway {index}: {ledger.WriterStats}, faulted loops {jobs.Faulted}");
                }
            });
        }

        // A fresh process spends seconds (far more on a loaded machine) on JIT and EF Core's model and migration check
        // before its first commit: it says ready only once every job in flight has settled a few times.
        while (jobs.Total < concurrency * 3L)
        {
            await Task.Delay(50);
        }

        Console.WriteLine("ready");
        await Console.In.ReadLineAsync();
        var before = ledger.WriterStats;
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var (jitBefore, gcBefore) = (System.Runtime.JitInfo.GetCompilationTime(), GC.GetTotalPauseDuration());
        var clock = Stopwatch.StartNew();
        jobs.Measuring = true;
        await Console.In.ReadLineAsync();
        jobs.Measuring = false;
        var elapsed = clock.Elapsed.TotalSeconds;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        var (jit, gc) = (System.Runtime.JitInfo.GetCompilationTime() - jitBefore, GC.GetTotalPauseDuration() - gcBefore);
        var after = ledger.WriterStats;
        var counted = jobs.Counted;
        await jobs.StopAsync();
        await ledger.DisposeAsync();
        var perTransaction = (double)(after.Operations - before.Operations) / Math.Max(after.Batches - before.Batches, 1);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"result {counted} {elapsed:F3} {cpu:F3} {perTransaction:F1} {(after.InTransactions - before.InTransactions).TotalMilliseconds:F0} {after.Retries - before.Retries} {after.Deadlocks - before.Deadlocks} {jit.TotalMilliseconds:F0} {gc.TotalMilliseconds:F0}"));
        return 0;
    }

    /// <summary>
    /// Jobs in flight on one ledger: each loops hold, then settle (9 in 10) or release (1 in 10), on 1000 funded users
    /// and 10 providers, counting settlements while <see cref="Measuring"/> is on.
    /// </summary>
    private sealed class SettlementLoad
    {
        private readonly List<Task> _run;
        private long _settlements;
        private long _total;
        private volatile bool _measuring;
        private volatile bool _stop;

        public SettlementLoad(JournalLedger ledger, int concurrency, string name, CancellationToken ct)
        {
            _run = [.. Enumerable.Range(0, concurrency).Select(async worker =>
            {
                var provider = AccountId.Provider($"p{worker % 10}");
                for (var job = 0L; !_stop; job++)
                {
                    var payer = AccountId.User((int)((worker + (job * concurrency)) % Users));
                    var hold = await ledger.HoldAsync(payer, 100_000, $"{name}:{worker}:{job}", ct);
                    if (job % 10 == 9)
                    {
                        await ledger.ReleaseAsync(hold.Id, ct);
                    }
                    else
                    {
                        await ledger.SettleAsync(hold.Id, [new Payee(provider, 54_321), new Payee(AccountId.NetworkFee, 6_035), new Payee(AccountId.Rounding, 1)], ct);
                    }

                    Interlocked.Increment(ref _total);
                    if (_measuring)
                    {
                        Interlocked.Increment(ref _settlements);
                    }
                }
            })];
        }

        public bool Measuring
        {
            get => _measuring;
            set => _measuring = value;
        }

        public long Counted => Interlocked.Read(ref _settlements);

        /// <summary>Settlements and releases since the start, measured or not.</summary>
        public long Total => Interlocked.Read(ref _total);

        public int Faulted => _run.Count(t => t.IsFaulted);

        public Task StopAsync()
        {
            _stop = true;
            return Task.WhenAll(_run);
        }
    }

    private sealed record GatewayResult(
        long Settlements, double Seconds, double CpuSeconds, double OperationsPerTransaction, double MillisecondsInTransactions, long Retries, long Deadlocks,
        double JitMilliseconds, double GcPauseMilliseconds);

    private sealed record PostgresResult(
        long Settlements, double Seconds, double SettlementsPerSecond, IReadOnlyList<GatewayResult> Gateways, double PostgresCpuSeconds, int Cores,
        bool CheckOk, string Check)
    {
        public string WhereTheTimeGoes()
        {
            var gatewaysCpu = Gateways.Sum(g => g.CpuSeconds);
            var available = Seconds * Cores;
            var idle = Math.Max(0, available - gatewaysCpu - PostgresCpuSeconds);
            var perSettlementUs = 1e6 * (gatewaysCpu + PostgresCpuSeconds) / Math.Max(Settlements, 1);
            return string.Create(CultureInfo.InvariantCulture,
                $"  where the time goes over {Seconds:F1}s x {Cores} cores = {available:F1} CPU-s: gateways {gatewaysCpu:F1} CPU-s, PostgreSQL {PostgresCpuSeconds:F1} CPU-s, "
                + $"rest (other processes, idle) {idle:F1}; {perSettlementUs:F0} CPU-us per settlement "
                + $"(gateways {1e6 * gatewaysCpu / Math.Max(Settlements, 1):F0}, of which JIT {Gateways.Sum(g => g.JitMilliseconds) / 1000:F2} s and GC pauses {Gateways.Sum(g => g.GcPauseMilliseconds) / 1000:F2} s in all; "
                + $"PostgreSQL {1e6 * PostgresCpuSeconds / Math.Max(Settlements, 1):F0}); at that cost {Cores} idle cores would settle {Cores * 1e6 / Math.Max(perSettlementUs, 1e-9):N0}/s; "
                + $"{Gateways.Average(g => g.OperationsPerTransaction):F1} ops/transaction, in transactions {Gateways.Sum(g => g.MillisecondsInTransactions) / 1000:F1} s of {Seconds * Gateways.Count:F1} s; "
                + $"batches run again after a conflict {Gateways.Sum(g => g.Retries)}, of them deadlocks or serialization failures {Gateways.Sum(g => g.Deadlocks)}");
        }
    }

    private static int Setting(string variable, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(variable), CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;

    private sealed record ModeResult(
        string Mode, int MaxBatch, long Settlements, double Seconds, double SettlementsPerSecond, double SettlementsPerCpuSecond,
        double OperationsPerTransaction, long Retries, bool CheckOk, string Check)
    {
        public string Line() => string.Create(CultureInfo.InvariantCulture,
            $"  {Mode,-31} {SettlementsPerSecond,8:N0} settlements/s  {SettlementsPerCpuSecond,8:N0} per CPU-second  {OperationsPerTransaction,6:F1} ops/transaction  {Retries} retries");
    }
}
