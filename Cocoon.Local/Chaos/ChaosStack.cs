using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cocoon.Local.Up;

namespace Cocoon.Local.Chaos;

/// <summary>
/// The stack chaos attacks: <c>Cocoon.Local up --gateways 2 --workers 3</c> as a child process, exactly as a developer
/// runs it, on its own temporary COCOON_DATA and free loopback ports. Its output goes to up.log in that folder; the
/// gateways' "attempt ... failed" lines are read from it to count the jobs a fault made re-dispatch. The processes to
/// kill are found as up's children in /proc (each child runs in its own session, so a signal reaches only it).
/// </summary>
internal sealed partial class ChaosStack : IAsyncDisposable
{
    private readonly Process _up;
    private readonly StreamWriter _log;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HttpClient _health = new() { Timeout = TimeSpan.FromSeconds(5) };
    private int _disposed;

    private ChaosStack(string dataDir, int httpPort, int redisPort, Process up, StreamWriter log)
    {
        DataDir = dataDir;
        HttpPort = httpPort;
        RedisPort = redisPort;
        _up = up;
        _log = log;
    }

    public string DataDir { get; }

    public int HttpPort { get; }

    public int RedisPort { get; }

    public string LogPath => Path.Combine(DataDir, "up.log");

    public bool HasExited => _up.HasExited;

    public string GatewayUrl(int index) => $"http://127.0.0.1:{(HttpPort + index).ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Per request id, the reasons its failed attempts were given (the gateways' warnings) and when they were read.</summary>
    public ConcurrentDictionary<string, ConcurrentQueue<(string Reason, DateTime At)>> FailedAttempts { get; } = new();

    public static ChaosStack Start(ChaosSettings settings, string dataDir)
    {
        var redisPort = FreePort();
        var httpPort = FreeAdjacentPorts(ChaosSettings.Gateways);
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("The path of Cocoon.Local itself is unknown.");
        var psi = new ProcessStartInfo(self) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "up", "--gateway", settings.GatewayExe, "--worker", settings.WorkerExe, "--gateways", "2", "--workers", "3" })
        {
            psi.ArgumentList.Add(a);
        }

        // Its own network: nothing of the developer's stack (key, bot token, toncenter, ledger database) is used.
        foreach (var name in new[] { "COCOON_API_KEY", "TELEGRAM_BOT_TOKEN", "ASPNETCORE_URLS", "Ton__ApiUrl", "Ton__ApiKey", "Ledger__ConnectionString", "Telegram__BotToken" })
        {
            psi.Environment.Remove(name);
        }

        psi.Environment["COCOON_DATA"] = dataDir;
        psi.Environment["COCOON_REDIS"] = $"127.0.0.1:{redisPort.ToString(CultureInfo.InvariantCulture)}";
        psi.Environment["COCOON_HTTP"] = $"http://127.0.0.1:{httpPort.ToString(CultureInfo.InvariantCulture)}";
        psi.Environment["Ledger__HoldTtl"] = settings.HoldTtl.ToString("c", CultureInfo.InvariantCulture);
        psi.Environment["Ledger__ExpirySweepInterval"] = ChaosSettings.SweepInterval.ToString("c", CultureInfo.InvariantCulture);
        var log = new StreamWriter(Path.Combine(dataDir, "up.log")) { AutoFlush = true };
        // up dies with chaos (a SIGKILL of chaos sends it SIGTERM, and it stops its children in order; see ParentBound).
        var up = new Process { StartInfo = psi };
        if (!Processes.ParentBound.Start(up))
        {
            throw new InvalidOperationException($"{self} up did not start");
        }

        var stack = new ChaosStack(dataDir, httpPort, redisPort, up, log);
        up.OutputDataReceived += (_, e) => stack.Line(e.Data);
        up.ErrorDataReceived += (_, e) => stack.Line(e.Data);
        up.BeginOutputReadLine();
        up.BeginErrorReadLine();
        return stack;
    }

    /// <summary>Waits for up's "Cocoon is up."; false when up exited first or the budget ran out.</summary>
    public async Task<bool> WaitReadyAsync(TimeSpan budget, CancellationToken cancellationToken)
    {
        var done = await Task.WhenAny(_ready.Task, _up.WaitForExitAsync(cancellationToken), Task.Delay(budget, cancellationToken));
        return done == _ready.Task;
    }

    public string ApiKey => LocalDataFolder.ReadSavedApiKey(DataDir) ?? throw new InvalidOperationException("up saved no API key");

    /// <summary>The attested workers gateway <paramref name="index"/> counts, or null when it does not answer.</summary>
    public async Task<int?> WorkersSeenAsync(int index, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _health.GetAsync(GatewayUrl(index) + "/healthz", cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return null;
            }

            using var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            return health.RootElement.GetProperty("workers").GetInt32();
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>up's live children running <paramref name="program"/> (the name the kernel shows), with their environment.</summary>
    public List<(int Pid, string Environ)> Children(string program)
    {
        var found = new List<(int, string)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after the last ')'.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var close = stat.LastIndexOf(')');
                var comm = stat[(stat.IndexOf('(', StringComparison.Ordinal) + 1)..close];
                var fields = stat[(close + 2)..].Split(' ');
                if (fields[0] == "Z" || int.Parse(fields[1], CultureInfo.InvariantCulture) != _up.Id || comm != program)
                {
                    continue;
                }

                found.Add((pid, File.ReadAllText(Path.Combine(dir, "environ"))));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
            }
        }

        return found;
    }

    /// <summary>
    /// Processes still running for the data folder <paramref name="dataDir"/> (its path in their command line or their
    /// COCOON_DATA) or, for redis-server (which writes its title over its argv and environment: "redis-server
    /// 127.0.0.1:PORT"), on <paramref name="redisPort"/>: after up stopped there should be none. Pid and command line each.
    /// </summary>
    public static List<(int Pid, string CommandLine)> LeftBehind(string dataDir, int redisPort)
    {
        var redisTitle = ":" + redisPort.ToString(CultureInfo.InvariantCulture);
        var found = new List<(int, string)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Trim();
                var environ = File.ReadAllText(Path.Combine(dir, "environ"));
                var redis = cmdline.StartsWith("redis-server", StringComparison.Ordinal) || cmdline.Contains("/redis-server", StringComparison.Ordinal);
                if (cmdline.Length > 0 && (cmdline.Contains(dataDir, StringComparison.Ordinal) || environ.Contains("COCOON_DATA=" + dataDir + "\0", StringComparison.Ordinal)
                    || (redis && cmdline.EndsWith(redisTitle, StringComparison.Ordinal))))
                {
                    found.Add((pid, cmdline));
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }

        return found;
    }

    /// <summary>The pid of gateway <paramref name="index"/> (found by its COCOON_HTTP), or null.</summary>
    public int? GatewayPid(int index) =>
        Children("Cocoon.Bot").Where(c => c.Environ.Contains("\0COCOON_HTTP=" + GatewayUrl(index) + "\0", StringComparison.Ordinal) || c.Environ.StartsWith("COCOON_HTTP=" + GatewayUrl(index) + "\0", StringComparison.Ordinal))
            .Select(c => (int?)c.Pid).FirstOrDefault();

    /// <summary>CPU time (user + system, in clock ticks) a process used so far; 0 when it is gone.</summary>
    public static long CpuTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // After "(comm) ": state is field 0, utime field 11, stime field 12.
            return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 0;
        }
    }

    public static bool Signal(int pid, int signal) => Kill(pid, signal) == 0;

    public const int Sigkill = 9;
    public const int Sigterm = 15;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        if (!_up.HasExited)
        {
            _ = Kill(_up.Id, Sigterm);
            try
            {
                await _up.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            }
            catch (TimeoutException)
            {
                _up.Kill(entireProcessTree: true);
                await _up.WaitForExitAsync();
            }
        }

        _up.WaitForExit(); // drains the redirected output
        _up.Dispose();
        _health.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }

    private void Line(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            if (_log.BaseStream.CanWrite)
            {
                _log.WriteLine(line);
            }
        }

        if (line.Contains("Cocoon is up.", StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }

        if (AttemptFailed().Match(line) is { Success: true } m)
        {
            FailedAttempts.GetOrAdd(m.Groups["id"].Value, _ => new ConcurrentQueue<(string, DateTime)>()).Enqueue((m.Groups["reason"].Value, DateTime.UtcNow));
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A port that is free together with the <paramref name="count"/> - 1 after it (gateway i listens on port + i).</summary>
    private static int FreeAdjacentPorts(int count)
    {
        for (var tries = 0; tries < 100; tries++)
        {
            var first = FreePort();
            var listeners = new List<TcpListener>();
            try
            {
                for (var i = 1; i < count; i++)
                {
                    var l = new TcpListener(IPAddress.Loopback, first + i);
                    l.Start();
                    listeners.Add(l);
                }

                return first;
            }
            catch (SocketException)
            {
            }
            finally
            {
                listeners.ForEach(l => l.Stop());
            }
        }

        throw new InvalidOperationException($"found no {count} free adjacent loopback ports");
    }

    // The dispatcher's warning (Dispatcher.LogAttemptFailed): "Request {RequestId} attempt {Attempt} on {WorkerId} failed: {Reason}".
    [GeneratedRegex(@"Request (?<id>[0-9a-f]{24}) attempt \d+ on \S+ failed: (?<reason>[A-Za-z0-9_\-]+)")]
    private static partial Regex AttemptFailed();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
