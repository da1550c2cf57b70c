using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Cocoon.Testing;
using Npgsql;

namespace Cocoon.Bench.Ledger;

/// <summary>
/// A throw-away PostgreSQL server for the benchmark, started the way the ledger's PostgreSQL tests start theirs
/// (tests/Cocoon.Ledger.Tests/Postgres/PostgresServer.cs): Debian's initdb and postgres (PATH, then
/// /usr/lib/postgresql/&lt;version&gt;/bin, newest first) on a free loopback port in a temp folder, as the postgres user
/// when run as root, fsync off (the benchmark measures the ledger's path, not this disk). Killed and deleted on dispose.
/// </summary>
public sealed class BenchPostgres : IAsyncDisposable
{
    private readonly TempDir _dir = new("cocoon-bench-pg");
    private Process? _process;

    private BenchPostgres()
    {
    }

    public int Port { get; private set; }

    public string DataDir => Path.Combine(_dir.Path, "data");

    public string ConnectionString => string.Create(CultureInfo.InvariantCulture,
        $"Host=127.0.0.1;Port={Port};Username=cocoon;Database=postgres;Timeout=30;Command Timeout=120;Maximum Pool Size=64");

    /// <summary>Null when PostgreSQL is installed (and can be run here); otherwise why not.</summary>
    public static string? Unavailable()
    {
        foreach (var tool in new[] { "initdb", "postgres" })
        {
            if (Find(tool) is null)
            {
                return $"PostgreSQL is not installed ({tool} is neither on the PATH nor in /usr/lib/postgresql/<version>/bin): apt-get install postgresql";
            }
        }

        return IsRoot && Find("runuser") is null ? "running as root without runuser: PostgreSQL cannot be started" : null;
    }

    public static async Task<BenchPostgres> StartAsync(CancellationToken cancellationToken)
    {
        var server = new BenchPostgres();
        try
        {
            await server.StartCoreAsync(cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>User plus system CPU seconds of the server and every backend it forked (from /proc), for "where the time goes".</summary>
    public double CpuSeconds()
    {
        var pidFile = Path.Combine(DataDir, "postmaster.pid");
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadLines(pidFile).First(), CultureInfo.InvariantCulture, out var postmaster))
        {
            return 0;
        }

        long ticks = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
                if (pid == postmaster || parent == postmaster)
                {
                    // utime and stime (fields 14 and 15 of stat; 12 and 13 after the name) plus the exited children's.
                    ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)
                        + long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // The process ended while we looked.
            }
        }

        return ticks / 100.0; // USER_HZ
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        if (IsRoot)
        {
            await RunAsync("chown", ["-R", "postgres", _dir.Path], asPostgres: false, cancellationToken).ConfigureAwait(false);
        }

        await RunAsync(Find("initdb")!, ["-D", DataDir, "-U", "cocoon", "--auth=trust", "-E", "UTF8", "--no-sync"], asPostgres: true, cancellationToken).ConfigureAwait(false);
        Port = FreePort();
        _process = Process.Start(Start(Find("postgres")!,
            ["-D", DataDir, "-p", Port.ToString(CultureInfo.InvariantCulture), "-k", _dir.Path,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"], asPostgres: true))!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString);
                await connection.OpenAsync(timeout.Token).ConfigureAwait(false);
                return;
            }
            catch (NpgsqlException) when (!timeout.IsCancellationRequested && !_process.HasExited)
            {
                await Task.Delay(100, timeout.Token).ConfigureAwait(false);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }

        _process?.Dispose();
        _dir.Dispose();
        return ValueTask.CompletedTask;
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static string? Find(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(BinDirectories())
            .Select(dir => Path.Combine(dir, tool))
            .FirstOrDefault(File.Exists);

    private static IEnumerable<string> BinDirectories() =>
        !Directory.Exists("/usr/lib/postgresql")
            ? []
            : Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(d => decimal.TryParse(Path.GetFileName(d), NumberStyles.Number, CultureInfo.InvariantCulture, out var v) ? v : -1)
                .Select(d => Path.Combine(d, "bin"));

    private static ProcessStartInfo Start(string tool, string[] args, bool asPostgres)
    {
        var info = new ProcessStartInfo(asPostgres && IsRoot ? "runuser" : tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asPostgres && IsRoot)
        {
            foreach (var a in new[] { "-u", "postgres", "--", tool })
            {
                info.ArgumentList.Add(a);
            }
        }

        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        return info;
    }

    private static async Task RunAsync(string tool, string[] args, bool asPostgres, CancellationToken cancellationToken)
    {
        using var process = Process.Start(Start(tool, args, asPostgres))!;
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        _ = process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} failed ({process.ExitCode}): {await stderr.ConfigureAwait(false)}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
