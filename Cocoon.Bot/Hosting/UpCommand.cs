using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Cocoon.Bot.Api;
using Cocoon.Network.Hosting;
using Cocoon.Ledger.Chain;
using Microsoft.Extensions.Configuration;

namespace Cocoon.Bot.Hosting;

/// <summary>
/// <c>./cocoon up</c>: the whole local stack under one process. Starts redis-server when nothing answers at
/// COCOON_REDIS, then the gateway (this program, serving) and one worker, each as a child process whose output is
/// relayed with a prefix; waits until /healthz says a worker is attested; Ctrl-C or SIGTERM stops them all, and
/// if any part dies the rest are stopped too, so nothing is left behind.
/// </summary>
internal static class UpCommand
{
    private const string ApiKeyFile = "api-key";
    private static readonly TimeSpan ReadyBudget = TimeSpan.FromMinutes(5);

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var output = Console.Out;
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddCocoonEnvironment()
            .AddCommandLine(args)
            .Build();

        UpSettings settings;
        try
        {
            settings = UpSettings.From(configuration);
        }
        catch (UpSettingsException ex)
        {
            await Console.Error.WriteLineAsync("cocoon up: invalid setting: " + ex.Message);
            return 2;
        }

        var children = new List<ChildProcess>();
        LocalChainProcess? chain = null;
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
        try
        {
            var redisNote = await EnsureRedisAsync(settings, children, output, cancellationToken);
            var childEnvironment = new Dictionary<string, string?>
            {
                ["COCOON_DATA"] = settings.DataDir,
                ["COCOON_REDIS"] = settings.RedisEndpoint,
                ["COCOON_HTTP"] = settings.Url,
                ["COCOON_API_KEY"] = settings.ApiKey,
                ["ASPNETCORE_URLS"] = null,
                // Local development policy: accept the local worker's measurement (a fresh build has one nobody
                // allow-listed) and workers without a provider token. The simulated platform key is added below.
                ["Gateway__AcceptAnySimulatedMeasurement"] = "true",
                ["Gateway__AllowLocalProvider"] = "true",
            };

            string chainNote;
            if (settings.ToncenterConfigured)
            {
                chainNote = $"TON:       {configuration["Ton:ApiUrl"]} (configured toncenter)";
            }
            else
            {
                try
                {
                    // The seed is kept under COCOON_DATA so the network's deposit address stays the same across runs.
                    var chainOptions = new LocalChainOptions { WalletSeedHex = await LocalWalletSeedAsync(settings.DataDir, cancellationToken) };
                    chain = await LocalChainProcess.StartAsync(chainOptions, loggers.CreateLogger("Cocoon.Up.Chain"), cancellationToken);
                    foreach (var (key, value) in chain.ConfigurationValues)
                    {
                        childEnvironment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
                    }

                    chainNote = $"TON:       local test chain at {chain.BaseUrl} (network wallet {chain.NetworkAddress.ToFriendly(bounceable: false)}); " +
                        $"a test payment: curl -X POST {chain.BaseUrl}test/pay -d '{{\"from\":\"alice\",\"amount\":\"1000000000\",\"comment\":\"INVOICE-COMMENT\"}}'";
                }
                catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception or IOException)
                {
                    // The API and the bot work without TON; only deposits and payouts need it.
                    chainNote = $"TON:       off: the local test chain did not start ({ex.Message}); set Ton:ApiUrl and Ton:ApiKey for a real toncenter";
                }
            }

            // Trust the simulated TEE key of this machine's worker: the worker says which key it is, so the gateway
            // never reads the worker's files.
            childEnvironment["Gateway__TrustedSimulatedPlatformKeys__0"] = await WorkerPlatformKeyAsync(settings.WorkerExe, childEnvironment, cancellationToken);

            var (gatewayExe, gatewayArgs) = SelfCommand();
            // The gateway runs in its own folder so its appsettings.json applies; the worker keeps the current folder,
            // where its default model search (./models/*.gguf) looks.
            children.Add(ChildProcess.Start("gateway", gatewayExe, gatewayArgs, childEnvironment, output, AppContext.BaseDirectory));
            var workerEnvironment = new Dictionary<string, string?>(childEnvironment)
            {
                // llama.cpp's model-loading chatter stays out of the terminal; warnings and errors still show.
                ["Logging__LogLevel__Cocoon.Worker.Native.LlamaCpp"] = "Warning",
            };
            children.Add(ChildProcess.Start("worker", settings.WorkerExe, ["run"], workerEnvironment, output));

            var (ready, model) = await WaitReadyAsync(settings.Url, children, cancellationToken);
            if (ready is not null)
            {
                await Console.Error.WriteLineAsync("cocoon up: " + ready);
                return 1;
            }

            PrintBanner(output, settings, redisNote, chainNote, model ?? "MODEL");
            var exited = await Task.WhenAny(children.Select(c => c.Exited).Append(Task.Delay(Timeout.Infinite, cancellationToken)));
            if (!cancellationToken.IsCancellationRequested)
            {
                var dead = children.First(c => c.HasExited);
                await Console.Error.WriteLineAsync($"cocoon up: the {dead.Name} stopped (exit code {dead.ExitCode}); stopping the rest.");
                return 1;
            }

            return 0;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 0;
        }
        catch (UpSettingsException ex)
        {
            await Console.Error.WriteLineAsync("cocoon up: " + ex.Message);
            return 1;
        }
        finally
        {
            if (children.Count > 0)
            {
                await output.WriteLineAsync("cocoon up: stopping " + string.Join(", ", Enumerable.Reverse(children).Select(c => c.Name == "redis" && chain is not null ? "TON chain, redis" : c.Name)));
            }

            // Reverse start order: the worker finishes first, then the gateway, the chain, and Redis (flushing its AOF) last.
            foreach (var child in Enumerable.Reverse(children).Where(c => c.Name != "redis"))
            {
                await child.DisposeAsync();
            }

            if (chain is not null)
            {
                await chain.DisposeAsync();
            }

            foreach (var child in children.Where(c => c.Name == "redis"))
            {
                await child.DisposeAsync();
            }
        }
    }

    /// <summary>The local key saved by an earlier <c>up</c>, or null.</summary>
    internal static string? ReadSavedApiKey(string dataDir)
    {
        var path = Path.Combine(dataDir, ApiKeyFile);
        return File.Exists(path) ? File.ReadAllText(path).Trim() is { Length: > 0 } k ? k : null : null;
    }

    /// <summary>COCOON_API_KEY, else the key saved under COCOON_DATA, else a new one saved there (owner-only).</summary>
    internal static string LocalApiKey(IConfiguration configuration, string dataDir)
    {
        if (configuration["Gateway:ApiKey"] is { Length: > 0 } configured)
        {
            return configured;
        }

        if (ReadSavedApiKey(dataDir) is { } saved)
        {
            return saved;
        }

        var key = ApiKeyStore.KeyPrefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var path = Path.Combine(dataDir, ApiKeyFile);
        File.WriteAllText(path, key + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return key;
    }

    private static async Task<string> EnsureRedisAsync(UpSettings settings, List<ChildProcess> children, TextWriter output, CancellationToken cancellationToken)
    {
        if (await RedisAnswersAsync(settings.RedisHost, settings.RedisPort, cancellationToken))
        {
            return $"Redis: using the one already answering at {settings.RedisEndpoint}";
        }

        if (!IsLoopback(settings.RedisHost))
        {
            throw new UpSettingsException($"Redis does not answer at {settings.RedisEndpoint} (COCOON_REDIS). Start it there, or unset COCOON_REDIS to let up start a local one.");
        }

        var dir = Path.Combine(settings.DataDir, "redis");
        Directory.CreateDirectory(dir);
        var exe = FindOnPath("redis-server")
            ?? throw new UpSettingsException("redis-server is not installed: ./cocoon up installs it with apt; or install the redis-server package.");
        var redis = ChildProcess.Start("redis", exe,
            ["--port", settings.RedisPort.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", dir,
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", string.Empty, "--daemonize", "no", "--loglevel", "warning"],
            new Dictionary<string, string?>(), output);
        children.Add(redis);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await RedisAnswersAsync(settings.RedisHost, settings.RedisPort, cancellationToken))
        {
            if (redis.HasExited)
            {
                throw new UpSettingsException($"redis-server exited with code {redis.ExitCode}; is port {settings.RedisPort} taken? Set COCOON_REDIS to another host:port.");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new UpSettingsException($"redis-server did not answer on {settings.RedisEndpoint} within 20 s.");
            }

            await Task.Delay(50, cancellationToken);
        }

        return $"Redis: started at {settings.RedisEndpoint} (data and AOF under {dir})";
    }

    /// <summary>Polls /healthz until 200; returns (null, first served model) when ready, else (why not, null).</summary>
    private static async Task<(string? Problem, string? Model)> WaitReadyAsync(string url, List<ChildProcess> children, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + ReadyBudget;
        var lastReason = "the gateway is not answering yet";
        var nextNote = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (children.FirstOrDefault(c => c.HasExited) is { } dead)
            {
                return ($"the {dead.Name} exited with code {dead.ExitCode} before the stack was ready (its output is above).", null);
            }

            try
            {
                using var response = await http.GetAsync(url.TrimEnd('/') + "/healthz", cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    using var health = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
                    var models = health.RootElement.GetProperty("models");
                    return (null, models.GetArrayLength() > 0 ? models[0].GetString() : null);
                }

                lastReason = await response.Content.ReadAsStringAsync(cancellationToken);
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            if (DateTime.UtcNow > nextNote)
            {
                await Console.Out.WriteLineAsync("cocoon up: waiting for the stack: " + lastReason);
                nextNote = DateTime.UtcNow.AddSeconds(10);
            }

            await Task.Delay(250, cancellationToken);
        }

        return ($"the stack was not ready within {ReadyBudget.TotalMinutes} minutes: {lastReason}", null);
    }

    private static void PrintBanner(TextWriter output, UpSettings settings, string redisNote, string chainNote, string model)
    {
        var b = new StringBuilder();
        b.AppendLine();
        b.AppendLine("Cocoon is up.");
        b.AppendLine($"  Gateway:   {settings.Url}  (OpenAI-compatible API under /v1, /healthz, /metrics)");
        b.AppendLine($"  Worker:    one local worker ({settings.WorkerExe} run), simulated TEE attestation");
        b.AppendLine("  Policy:    local development (simulated TEE trusted, any measurement, no provider token needed)");
        b.AppendLine($"  {redisNote}");
        b.AppendLine($"  {chainNote}");
        b.AppendLine($"  Data:      {settings.DataDir} (ledger.db, redis/, api-key)");
        b.AppendLine($"  API key:   {settings.ApiKey}  ({(settings.ApiKeyGenerated ? "generated and saved under the data folder" : "from COCOON_API_KEY")})");
        b.AppendLine(settings.TelegramOn
            ? "  Telegram:  on (TELEGRAM_BOT_TOKEN is set)"
            : "  Telegram:  off: TELEGRAM_BOT_TOKEN is not set (get a token from @BotFather); the API runs without it");
        b.AppendLine();
        b.AppendLine("Try it:");
        b.AppendLine("  ./cocoon ask \"Once upon a time\"");
        b.AppendLine($"  curl -N {settings.Url}/v1/chat/completions -H \"Authorization: Bearer {settings.ApiKey}\" -H 'Content-Type: application/json' \\");
        b.AppendLine("    -d '{\"model\":\"" + model + "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'");
        b.AppendLine($"  (all models: curl {settings.Url}/v1/models -H \"Authorization: Bearer {settings.ApiKey}\")");
        b.AppendLine("Ctrl-C stops everything.");
        lock (output)
        {
            output.Write(b.ToString());
            output.Flush();
        }
    }

    /// <summary>Runs <c>Cocoon.Worker platform-key</c> with the stack's environment and returns the key it prints.</summary>
    private static async Task<string> WorkerPlatformKeyAsync(string workerExe, IReadOnlyDictionary<string, string?> environment, CancellationToken cancellationToken)
    {
        var start = new System.Diagnostics.ProcessStartInfo(workerExe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("platform-key");
        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        using var process = System.Diagnostics.Process.Start(start) ?? throw new UpSettingsException($"could not start {workerExe}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var key = (await stdout).Trim();
        if (process.ExitCode != 0 || key.Length != 64)
        {
            throw new UpSettingsException($"the worker could not tell its simulated platform key (exit {process.ExitCode}): {(await stderr).Trim()}");
        }

        return key;
    }

    /// <summary>How to start this same program as the gateway: the apphost, or <c>dotnet Cocoon.Bot.dll</c>.</summary>
    private static (string Exe, string[] Args) SelfCommand()
    {
        var processPath = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find this program's path");
        if (Path.GetFileNameWithoutExtension(processPath) == "dotnet")
        {
            return (processPath, [Path.Combine(AppContext.BaseDirectory, "Cocoon.Bot.dll")]);
        }

        return (processPath, []);
    }

    internal static async Task<bool> RedisAnswersAsync(string host, int port, CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(1));
            await client.ConnectAsync(host, port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), timeout.Token);
            var buffer = new byte[64];
            var n = await stream.ReadAsync(buffer, timeout.Token);
            // "-NOAUTH" or "-LOADING" still means a Redis is there; only silence means none.
            return n > 0 && (buffer[0] == (byte)'+' || buffer[0] == (byte)'-');
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private static bool IsLoopback(string host) =>
        host is "localhost" || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));

    internal static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin").Append("/usr/sbin"))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>The local chain's network wallet seed: created once (owner-only file) and reused.</summary>
    private static async Task<string> LocalWalletSeedAsync(string dataDir, CancellationToken cancellationToken)
    {
        var path = Path.Combine(dataDir, "ton", "local-network-wallet.seed");
        if (File.Exists(path))
        {
            return (await File.ReadAllTextAsync(path, cancellationToken)).Trim();
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var seed = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        await File.WriteAllTextAsync(path, seed, cancellationToken);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return seed;
    }
}

internal sealed class UpSettingsException(string message) : Exception(message);

/// <summary>The settings <c>up</c> needs, validated before anything starts; each error names the setting and the fix.</summary>
internal sealed record UpSettings(
    string DataDir, string Url, string RedisEndpoint, string RedisHost, int RedisPort, string ApiKey, bool ApiKeyGenerated, string WorkerExe, bool TelegramOn, bool ToncenterConfigured)
{
    public static UpSettings From(IConfiguration configuration)
    {
        string dataDir;
        try
        {
            dataDir = CocoonEnvironment.DataDir(configuration);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UpSettingsException($"COCOON_DATA (Cocoon:DataDir) '{configuration["Cocoon:DataDir"]}' cannot be created ({ex.Message}); point it at a writable folder.");
        }

        var url = configuration["Gateway:Url"] is { Length: > 0 } u ? u.TrimEnd('/') : CocoonEnvironment.DefaultHttp;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Port <= 0)
        {
            throw new UpSettingsException($"COCOON_HTTP (Gateway:Url) must be an absolute URL with a port such as {CocoonEnvironment.DefaultHttp}, not '{url}'.");
        }

        var redis = configuration["Redis:Endpoint"] is { Length: > 0 } r ? r : CocoonEnvironment.DefaultRedis;
        var colon = redis.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(redis[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new UpSettingsException($"COCOON_REDIS (Redis:Endpoint) must be host:port such as {CocoonEnvironment.DefaultRedis}, not '{redis}'.");
        }

        var configuredKey = configuration["Gateway:ApiKey"];
        if (configuredKey is { Length: > 0 } && (configuredKey.Length < 16 || configuredKey.Any(char.IsWhiteSpace)))
        {
            throw new UpSettingsException("COCOON_API_KEY (Gateway:ApiKey) must be at least 16 characters without spaces; unset it to have up generate one.");
        }

        var generated = configuredKey is not { Length: > 0 } && UpCommand.ReadSavedApiKey(dataDir) is null;
        var key = UpCommand.LocalApiKey(configuration, dataDir);

        var worker = configuration["Up:WorkerPath"] is { Length: > 0 } w ? w : DefaultWorkerPath();
        if (!File.Exists(worker))
        {
            throw new UpSettingsException($"the worker program is missing at {worker}: build the solution (./cocoon up does), or set Up:WorkerPath (--Up:WorkerPath=PATH).");
        }

        var tonUrl = configuration["Ton:ApiUrl"];
        if (tonUrl is { Length: > 0 } && !Uri.TryCreate(tonUrl, UriKind.Absolute, out _))
        {
            throw new UpSettingsException($"Ton:ApiUrl must be an absolute toncenter URL (a toncenter v2 API URL), not '{tonUrl}'.");
        }

        return new UpSettings(dataDir, url, redis, redis[..colon].Trim('[', ']'), port, key, generated, worker,
            configuration["Telegram:BotToken"] is { Length: > 0 }, tonUrl is { Length: > 0 } && configuration["Ton:ApiKey"] is { Length: > 0 });
    }

    /// <summary>The worker is built beside the gateway: .../Cocoon.Bot/bin/CONFIG/TFM/ → .../Cocoon.Worker/bin/CONFIG/TFM/.</summary>
    private static string DefaultWorkerPath()
    {
        var here = AppContext.BaseDirectory;
        var sibling = here.Replace($"{Path.DirectorySeparatorChar}Cocoon.Bot{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", $"{Path.DirectorySeparatorChar}Cocoon.Worker{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal);
        // In a container image both programs are published into one folder.
        return File.Exists(Path.Combine(sibling, "Cocoon.Worker")) ? Path.Combine(sibling, "Cocoon.Worker") : Path.Combine(here, "Cocoon.Worker");
    }

}
