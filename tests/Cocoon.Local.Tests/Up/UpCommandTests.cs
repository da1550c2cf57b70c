using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Cocoon.Testing;

namespace Cocoon.Local.Tests.Up;

/// <summary>
/// <c>Cocoon.Local up</c> as <c>./cocoon up</c> runs it (the built program, a child process, given the built gateway and
/// worker): it starts Redis, the gateway and a worker, reports ready, answers <c>ask</c>, and on SIGTERM leaves no
/// process and no open port behind.
/// </summary>
public sealed partial class UpCommandTests
{
    private static string Configuration => AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";

    private static string Built(string project) => Path.Combine(SharedFiles.RepoRoot, project, "bin", Configuration, "net10.0", project);

    /// <summary>The arguments the cocoon script passes: the programs up starts, by path.</summary>
    private static string[] UpArgs => ["up", "--gateway", Built("Cocoon.Bot"), "--worker", Built("Cocoon.Worker")];

    [Fact]
    public async Task Up_starts_the_stack_answers_ask_and_stops_everything_on_sigterm()
    {
        using var data = new TempDir("cocoon-up");
        var (redisPort, httpPort, env) = StackEnvironment(data.Path, maxConcurrency: 2);
        var output = new StringBuilder();
        using var up = Start(UpArgs, env, output);
        try
        {
            await WaitForAsync(() => Contains(output, UpBannerEnd) || up.HasExited, TimeSpan.FromMinutes(3));
            Assert.False(up.HasExited, "up exited early:\n" + Text(output));
            var key = File.ReadAllText(Path.Combine(data.Path, "api-key")).Trim();
            Assert.Contains(key, Text(output), StringComparison.Ordinal);
            Assert.Contains("Telegram:  off", Text(output), StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(data.Path, "redis", "appendonly.aof")) || Directory.Exists(Path.Combine(data.Path, "redis", "appendonlydir")), "Redis runs with AOF under COCOON_DATA");
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(data.Path, "redis")));
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(data.Path, "ledger.db")));
            }

            using (var http = new HttpClient())
            {
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{httpPort}/healthz")).StatusCode);
            }

            var askOutput = new StringBuilder();
            using (var ask = Start(["ask", "--max-tokens", "16", "Once upon a time"], env, askOutput))
            {
                Assert.True(ask.WaitForExit(TimeSpan.FromMinutes(1)), "ask finished");
                ask.WaitForExit();
                Assert.True(ask.ExitCode == 0, Text(askOutput));
            }

            Assert.Contains("completion tokens; cost", Text(askOutput), StringComparison.Ordinal);
            Assert.Contains("attestation: simulated", Text(askOutput), StringComparison.Ordinal);
        }
        finally
        {
            if (!up.HasExited)
            {
                _ = Kill(up.Id, 15);
            }

            Assert.True(up.WaitForExit(TimeSpan.FromSeconds(60)), "up stopped after SIGTERM");
        }

        Assert.Equal(0, up.ExitCode);
        Assert.False(await AnswersAsync(redisPort), "Redis was stopped");
        Assert.False(await AnswersAsync(httpPort), "the gateway was stopped");
        Assert.Empty(LocalProcesses.Describe(data.Path));
    }

    [Fact]
    public async Task Two_gateways_and_two_workers_share_one_network_a_killed_worker_comes_back_and_no_worker_holds_the_wallet_seed()
    {
        using var data = new TempDir("cocoon-up");
        var (redisPort, httpPort, env) = StackEnvironment(data.Path, maxConcurrency: 1);
        var output = new StringBuilder();
        var chainDir = Path.Combine(SharedFiles.RepoRoot, "Cocoon.Ledger", "LocalChain");
        using var up = Start([.. UpArgs, "--chain", chainDir, "--gateways", "2", "--workers", "2"], env, output);
        try
        {
            await WaitForAsync(() => Contains(output, UpBannerEnd) || up.HasExited, TimeSpan.FromMinutes(4));
            Assert.False(up.HasExited, "up exited early:\n" + Text(output));
            Assert.Contains("local test chain at", Text(output), StringComparison.Ordinal);
            Assert.Contains($"http://127.0.0.1:{httpPort + 1}", Text(output), StringComparison.Ordinal);

            // The wallet seed and the bot's host key reach the gateways and no worker.
            var workers = LocalProcesses.Running(data.Path, "Cocoon.Worker");
            var gateways = LocalProcesses.Running(data.Path, "Cocoon.Bot");
            Assert.Equal(2, workers.Count);
            Assert.Equal(2, gateways.Count);
            Assert.All(gateways, g => Assert.Contains("Ton__WalletSeed=", g.Environ, StringComparison.Ordinal));
            Assert.All(workers, w => Assert.DoesNotContain("Ton__WalletSeed=", w.Environ, StringComparison.Ordinal));
            Assert.All(workers, w => Assert.DoesNotContain("Telegram__HostKey=", w.Environ, StringComparison.Ordinal));

            // A worker killed outright is started again; the stack keeps answering through the second gateway.
            _ = Kill(workers[0].Pid, 9);
            await WaitForAsync(() => Contains(output, "starting it again"), TimeSpan.FromMinutes(1));
            Assert.Contains("starting it again", Text(output), StringComparison.Ordinal);
            await WaitForAsync(() => LocalProcesses.Running(data.Path, "Cocoon.Worker").Count(w => w.Pid != workers[0].Pid) == 2, TimeSpan.FromMinutes(1));
            Assert.Equal(2, LocalProcesses.Running(data.Path, "Cocoon.Worker").Count(w => w.Pid != workers[0].Pid));
            Assert.False(up.HasExited, "one worker's death stopped the stack:\n" + Text(output));

            var askOutput = new StringBuilder();
            using (var ask = Start(["ask", "--max-tokens", "8", "Once upon a time"], new Dictionary<string, string>(env) { ["COCOON_HTTP"] = $"http://127.0.0.1:{httpPort + 1}" }, askOutput))
            {
                Assert.True(ask.WaitForExit(TimeSpan.FromMinutes(1)), "ask finished");
                ask.WaitForExit();
                Assert.True(ask.ExitCode == 0, Text(askOutput));
            }
        }
        finally
        {
            if (!up.HasExited)
            {
                _ = Kill(up.Id, 15);
            }

            Assert.True(up.WaitForExit(TimeSpan.FromSeconds(90)), "up stopped after SIGTERM");
        }

        Assert.Equal(0, up.ExitCode);
        Assert.False(await AnswersAsync(httpPort + 1), "the second gateway was stopped");
        Assert.Empty(LocalProcesses.Describe(data.Path));
    }

    [Fact]
    public async Task A_sigkill_of_ups_whole_process_group_leaves_no_gateway_worker_or_redis_behind()
    {
        using var data = new TempDir("cocoon-up");
        var (redisPort, httpPort, env) = StackEnvironment(data.Path, maxConcurrency: 1);
        var output = new StringBuilder();
        // up leads a process group of its own, as in a terminal; its children each run in a session of their own, so
        // the group's SIGKILL reaches up alone and nothing is left to stop them in order.
        using var up = Start(UpArgs, env, output, ownGroup: true);
        try
        {
            await WaitForAsync(
                () => up.HasExited || (LocalProcesses.Running(data.Path, "Cocoon.Worker").Count == 1 && LocalProcesses.Running(data.Path, "Cocoon.Bot").Count == 1),
                TimeSpan.FromMinutes(3));
            Assert.False(up.HasExited, "up exited early:\n" + Text(output));
            // redis-server rewrites its title over its argv and environment, so it is found by its port, not its folder.
            Assert.True(await AnswersAsync(redisPort), "up's Redis runs");
        }
        finally
        {
            _ = Kill(-up.Id, 9);
            up.WaitForExit();
        }

        // Each child got SIGTERM from the kernel when up died, and stopped.
        await WaitForAsync(() => LocalProcesses.Describe(data.Path).Count == 0 && !AnswersAsync(redisPort).GetAwaiter().GetResult(), TimeSpan.FromMinutes(1));
        Assert.Empty(LocalProcesses.Describe(data.Path));
        Assert.False(await AnswersAsync(redisPort), "Redis was stopped");
        Assert.False(await AnswersAsync(httpPort), "the gateway was stopped");
    }

    [Fact]
    public async Task A_terminals_ctrl_c_to_ups_whole_process_group_reaches_up_alone_which_stops_everything_in_order()
    {
        using var data = new TempDir("cocoon-up");
        var (redisPort, httpPort, env) = StackEnvironment(data.Path, maxConcurrency: 1);
        var output = new StringBuilder();
        var chainDir = Path.Combine(SharedFiles.RepoRoot, "Cocoon.Ledger", "LocalChain");
        // up leads its own process group, as in a terminal, where Ctrl-C sends SIGINT to the whole foreground group.
        using var up = Start([.. UpArgs, "--chain", chainDir], env, output, ownGroup: true);
        try
        {
            await WaitForAsync(() => Contains(output, UpBannerEnd) || up.HasExited, TimeSpan.FromMinutes(4));
            Assert.False(up.HasExited, "up exited early:\n" + Text(output));
            Assert.Contains("local test chain at", Text(output), StringComparison.Ordinal);

            // Every child (Redis is found by its port: it rewrites its title and environment) is outside up's group,
            // so the group's SIGINT reaches up alone and up stops them: workers, gateways, then the chain and Redis.
            var children = LocalProcesses.Using(data.Path).Where(p => p.Pid != up.Id).ToList();
            Assert.Contains(children, p => p.Program == "node");
            Assert.Contains(children, p => p.Program == "Cocoon.Bot");
            Assert.Contains(children, p => p.Program == "Cocoon.Worker");
            Assert.All(children, p => Assert.True(ProcessGroup(p.Pid) != up.Id, $"{p.Pid} ({p.Program}) is in up's process group"));
        }
        finally
        {
            _ = Kill(-up.Id, 2);
            Assert.True(up.WaitForExit(TimeSpan.FromSeconds(90)), "up stopped after the group's SIGINT");
            up.WaitForExit();
        }

        var text = Text(output);
        Assert.Contains("cocoon up: stopping", text, StringComparison.Ordinal);
        Assert.Equal(0, up.ExitCode);
        Assert.Empty(LocalProcesses.Describe(data.Path));
        Assert.False(await AnswersAsync(redisPort), "Redis was stopped");
        Assert.False(await AnswersAsync(httpPort), "the gateway was stopped");
        // The gateway stopped while the chain still ran: no failed round and no stack trace in what it printed.
        var gatewayLines = text.Split('\n').Where(l => l.StartsWith("[gateway", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(gatewayLines);
        Assert.DoesNotContain(gatewayLines, l => l.Contains("   at ", StringComparison.Ordinal) || l.Contains("a round failed", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal));
    }

    /// <summary>A process's group id: field 5 of /proc/PID/stat (after the parenthesised name, which may hold spaces).</summary>
    private static int ProcessGroup(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Invalid_setting_stops_up_with_a_message_naming_it()
    {
        using var data = new TempDir("cocoon-up");
        var output = new StringBuilder();
        var dataDir = Path.Combine(data.Path, "not-yet");
        using var up = Start(UpArgs, new Dictionary<string, string> { ["COCOON_DATA"] = dataDir, ["COCOON_REDIS"] = "no-port-here" }, output);
        Assert.True(up.WaitForExit(TimeSpan.FromSeconds(60)));
        up.WaitForExit(); // drains the redirected output
        Assert.Equal(2, up.ExitCode);
        Assert.Contains("COCOON_REDIS", Text(output), StringComparison.Ordinal);
        Assert.False(Directory.Exists(dataDir), "validation wrote nothing: the data folder was not created");
        Assert.Empty(LocalProcesses.Describe(dataDir));
    }

    [Theory]
    [InlineData("--gateway", "Cocoon.Bot")]
    [InlineData("--worker", "Cocoon.Worker")]
    public void A_program_not_given_stops_up_with_a_message_naming_the_option(string option, string project)
    {
        using var data = new TempDir("cocoon-up");
        var output = new StringBuilder();
        var args = UpArgs.ToList();
        args.RemoveRange(args.IndexOf(option), 2);
        using var up = Start([.. args], new Dictionary<string, string> { ["COCOON_DATA"] = data.Path }, output);
        Assert.True(up.WaitForExit(TimeSpan.FromSeconds(60)));
        up.WaitForExit();
        Assert.Equal(2, up.ExitCode);
        Assert.Contains(option + " PATH", Text(output), StringComparison.Ordinal);
        Assert.Contains(project, Text(output), StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(data.Path));
    }

    [Fact]
    public void A_program_path_that_does_not_exist_is_named()
    {
        using var data = new TempDir("cocoon-up");
        var output = new StringBuilder();
        var missing = Path.Combine(data.Path, "no-such-gateway");
        using var up = Start(["up", "--gateway", missing, "--worker", Built("Cocoon.Worker")], new Dictionary<string, string> { ["COCOON_DATA"] = data.Path }, output);
        Assert.True(up.WaitForExit(TimeSpan.FromSeconds(60)));
        up.WaitForExit();
        Assert.Equal(2, up.ExitCode);
        Assert.Contains("the gateway program is missing at " + missing, Text(output), StringComparison.Ordinal);
    }

    /// <summary>Free loopback ports for Redis and the gateway, and the environment up gets: the small model, one thread.</summary>
    private static (int RedisPort, int HttpPort, Dictionary<string, string> Env) StackEnvironment(string dataDir, int maxConcurrency)
    {
        var redisPort = RedisServer.FreePort();
        // Free together with the next port: the two-gateway test's second gateway listens there.
        var httpPort = RedisServer.FreePorts(2);
        return (redisPort, httpPort, new Dictionary<string, string>
        {
            ["COCOON_DATA"] = dataDir,
            ["COCOON_REDIS"] = $"127.0.0.1:{redisPort}",
            ["COCOON_HTTP"] = $"http://127.0.0.1:{httpPort}",
            ["COCOON_MODEL"] = SharedFiles.SmallModel,
            ["Llama__Threads"] = "1",
            ["Llama__MaxConcurrency"] = maxConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
    }

    private static Process Start(string[] args, Dictionary<string, string> env, StringBuilder output, bool ownGroup = false)
    {
        // setsid execs in place: the pid is up's, and up leads its own session and process group.
        var psi = new ProcessStartInfo(ownGroup ? "setsid" : Built("Cocoon.Local")) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = SharedFiles.RepoRoot };
        if (ownGroup)
        {
            psi.ArgumentList.Add(Built("Cocoon.Local"));
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var name in new[] { "COCOON_API_KEY", "TELEGRAM_BOT_TOKEN", "ASPNETCORE_URLS" })
        {
            psi.Environment.Remove(name);
        }

        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }

        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task<bool> AnswersAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan budget)
    {
        var deadline = DateTime.UtcNow + budget;
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    /// <summary>
    /// The banner's last line: its lines reach the test one by one through the pipe, so waiting for the first
    /// ("Cocoon is up.") and then reading the key two lines later raced the reader on a loaded machine.
    /// </summary>
    private const string UpBannerEnd = "Ctrl-C stops everything.";

    private static bool Contains(StringBuilder output, string text) => Text(output).Contains(text, StringComparison.Ordinal);

    private static string Text(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
