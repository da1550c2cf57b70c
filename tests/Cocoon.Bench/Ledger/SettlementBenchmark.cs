using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Checks;
using Cocoon.Ledger.Data;
using Cocoon.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cocoon.Bench.Ledger;

/// <summary>
/// `cocoon bench ledger`: settlements per second on a SQLite file. One settlement is a job's money path: a hold,
/// then a settle that pays the provider, the network fee and rounding (9 in 10) or a release (1 in 10).
/// The group-committing writer is measured against its peer in the same run: the same SQL with one transaction
/// per operation (Ledger:MaxBatch = 1). Both ledgers must pass the invariant check afterwards.
/// Options: --seconds N (measured time per mode, default 5), --concurrency N (jobs in flight, default 256).
/// </summary>
public static class SettlementBenchmark
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, string? jsonDir, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        var seconds = Option(args, "--seconds", 5);
        var concurrency = Option(args, "--concurrency", 256);

        var load = File.Exists("/proc/loadavg") ? $", load average {(await File.ReadAllTextAsync("/proc/loadavg", cancellationToken)).Split(' ')[0]}" : "";
        await output.WriteLineAsync($"ledger settlements (hold + settle 90% / release 10%) on SQLite, WAL, synchronous=NORMAL; {concurrency} jobs in flight, {seconds}s per mode, {Environment.ProcessorCount} cores{load}");
        var grouped = await MeasureAsync("group commit (MaxBatch 512)", 512, seconds, concurrency, cancellationToken);
        await output.WriteLineAsync(grouped.Line());
        var naive = await MeasureAsync("one transaction per operation", 1, seconds, concurrency, cancellationToken);
        await output.WriteLineAsync(naive.Line());
        var ratio = grouped.SettlementsPerSecond / Math.Max(naive.SettlementsPerSecond, 1e-9);
        await output.WriteLineAsync($"ratio: group commit is {ratio:F1}x one transaction per operation; goal >= 10,000 settlements/s: {(grouped.SettlementsPerSecond >= 10_000 ? "met" : "NOT met")}");

        if (jsonDir is not null)
        {
            Directory.CreateDirectory(jsonDir);
            var json = JsonSerializer.Serialize(new { benchmark = "ledger-settlements", seconds, concurrency, cores = Environment.ProcessorCount, grouped, naive, ratio }, JsonOptions);
            await File.WriteAllTextAsync(Path.Combine(jsonDir, "ledger-settlements.json"), json, cancellationToken);
        }

        return grouped.CheckOk && naive.CheckOk ? 0 : 1;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private static async Task<ModeResult> MeasureAsync(string name, int maxBatch, int seconds, int concurrency, CancellationToken cancellationToken)
    {
        using var dir = new TempDir("cocoon-bench-ledger");
        var database = new LedgerDatabase($"Data Source={dir.File("ledger.db")}");
        var options = Options.Create(new LedgerOptions { MaxBatch = maxBatch });
        var ledger = new JournalLedger(database, options, TimeProvider.System, NullLogger<JournalLedger>.Instance);
        try
        {
            const int users = 1000;
            await Task.WhenAll(Enumerable.Range(0, users).Select(u =>
                ledger.CreditAsync(AccountId.User(u), 1_000_000_000_000, AccountId.TonHotWallet, $"fund:{u}", cancellationToken)));

            var settlements = 0L;
            var measuring = false;
            var stop = false;
            var run = Enumerable.Range(0, concurrency).Select(async worker =>
            {
                var provider = AccountId.Provider($"p{worker % 10}");
                for (var job = 0L; !Volatile.Read(ref stop); job++)
                {
                    var payer = AccountId.User((int)((worker + (job * concurrency)) % users));
                    var hold = await ledger.HoldAsync(payer, 100_000, $"job:{worker}:{job}", cancellationToken);
                    if (job % 10 == 9)
                    {
                        await ledger.ReleaseAsync(hold.Id, cancellationToken);
                    }
                    else
                    {
                        await ledger.SettleAsync(hold.Id, [new Payee(provider, 54_321), new Payee(AccountId.NetworkFee, 6_035), new Payee(AccountId.Rounding, 1)], cancellationToken);
                    }

                    if (Volatile.Read(ref measuring))
                    {
                        Interlocked.Increment(ref settlements);
                    }
                }
            }).ToList();

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken); // warm-up: JIT, statement preparation, page cache
            var clock = Stopwatch.StartNew();
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            Volatile.Write(ref measuring, true);
            await Task.Delay(TimeSpan.FromSeconds(seconds), cancellationToken);
            Volatile.Write(ref measuring, false);
            var elapsed = clock.Elapsed;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
            var counted = Interlocked.Read(ref settlements);
            var stats = ledger.WriterStats;
            Volatile.Write(ref stop, true);
            await Task.WhenAll(run);
            await ledger.DisposeAsync();

            var report = await LedgerChecker.CheckAsync(database, cancellationToken);
            return new ModeResult(name, maxBatch, counted, elapsed.TotalSeconds, counted / elapsed.TotalSeconds, counted / Math.Max(cpu.TotalSeconds, 1e-9),
                (double)stats.Operations / Math.Max(stats.Batches, 1), report.Ok, report.Summary);
        }
        finally
        {
            await ledger.DisposeAsync();
            SqliteConnection.ClearAllPools();
        }
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var value) && value > 0 ? value : fallback;
    }

    /// <summary>Per CPU-second too: on a shared machine the wall-clock rate says as much about the neighbours.</summary>
    private sealed record ModeResult(
        string Mode, int MaxBatch, long Settlements, double Seconds, double SettlementsPerSecond, double SettlementsPerCpuSecond,
        double OperationsPerTransaction, bool CheckOk, string Check)
    {
        public string Line() =>
            $"  {Mode,-32} {SettlementsPerSecond,8:N0} settlements/s {SettlementsPerCpuSecond,8:N0} per CPU-second, {OperationsPerTransaction,5:F1} ops/transaction ({Settlements:N0} in {Seconds:F1}s)" +
            Environment.NewLine + "    " + Check;
    }
}
