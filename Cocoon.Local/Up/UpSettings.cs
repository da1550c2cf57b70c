using System.Globalization;
using Cocoon.Network.Hosting;
using Microsoft.Extensions.Configuration;

namespace Cocoon.Local.Up;

/// <summary>A setting <c>up</c> cannot run with; the message names the setting and the fix.</summary>
internal sealed class UpSettingsException(string message) : Exception(message);

/// <summary>
/// The settings <c>up</c> needs, validated before anything starts. Validation only reads: creating the data folder
/// and the API key file is <see cref="LocalDataFolder.Prepare"/>'s step, taken once every setting is known good.
/// </summary>
internal sealed record UpSettings(
    string DataDir,
    string Url,
    string RedisEndpoint,
    string RedisHost,
    int RedisPort,
    string? ConfiguredApiKey,
    string GatewayExe,
    string WorkerExe,
    string? LocalChainDir,
    string? TonApiUrl,
    bool TelegramOn,
    bool ToncenterConfigured,
    string? TonProofDomain = null,
    int Gateways = 1,
    int Workers = 1)
{
    public const int MaxGateways = 8;
    public const int MaxWorkers = 16;

    /// <summary>Gateway <paramref name="index"/> (from 0) listens on COCOON_HTTP's port plus its index.</summary>
    public string GatewayUrl(int index)
    {
        var uri = new UriBuilder(Url) { Port = new Uri(Url).Port + index };
        return uri.Uri.GetLeftPart(UriPartial.Authority);
    }

    /// <summary>Command-line switches for the programs <c>up</c> starts (the <c>cocoon</c> script passes them).</summary>
    public static IDictionary<string, string> SwitchMappings { get; } = new Dictionary<string, string>
    {
        ["--gateway"] = "Up:GatewayPath",
        ["--worker"] = "Up:WorkerPath",
        ["--chain"] = "Up:LocalChainDir",
        ["--gateways"] = "Up:Gateways",
        ["--workers"] = "Up:Workers",
    };

    public static UpSettings From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        string dataDir;
        try
        {
            dataDir = CocoonEnvironment.DataDirPath(configuration);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new UpSettingsException($"COCOON_DATA (Cocoon:DataDir) '{configuration["Cocoon:DataDir"]}' is not a valid path ({ex.Message}); point it at a writable folder.");
        }

        if (File.Exists(dataDir))
        {
            throw new UpSettingsException($"COCOON_DATA (Cocoon:DataDir) '{dataDir}' is a file; point it at a folder.");
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

        var configuredKey = configuration["Gateway:ApiKey"] is { Length: > 0 } k ? k : null;
        if (configuredKey is not null && (configuredKey.Length < 16 || configuredKey.Any(char.IsWhiteSpace)))
        {
            throw new UpSettingsException("COCOON_API_KEY (Gateway:ApiKey) must be at least 16 characters without spaces; unset it to have up generate one.");
        }

        var gateway = RequiredProgram(configuration, "Up:GatewayPath", "--gateway", "gateway", "Cocoon.Bot");
        var worker = RequiredProgram(configuration, "Up:WorkerPath", "--worker", "worker", "Cocoon.Worker");

        var chainDir = configuration["Up:LocalChainDir"] is { Length: > 0 } c ? Path.GetFullPath(c) : null;
        if (chainDir is not null && !File.Exists(Path.Combine(chainDir, "server.mjs")))
        {
            throw new UpSettingsException($"the local chain's server.mjs is missing in {chainDir}: pass --chain with the Cocoon.Ledger/LocalChain folder (Up:LocalChainDir).");
        }

        var tonUrl = configuration["Ton:ApiUrl"] is { Length: > 0 } t ? t : null;
        if (tonUrl is not null && !Uri.TryCreate(tonUrl, UriKind.Absolute, out _))
        {
            throw new UpSettingsException($"Ton:ApiUrl must be an absolute toncenter URL (a toncenter v2 API URL), not '{tonUrl}'.");
        }

        var gateways = Count(configuration, "Up:Gateways", "--gateways", MaxGateways);
        var workers = Count(configuration, "Up:Workers", "--workers", MaxWorkers);
        if (uri.Port + gateways - 1 > 65535)
        {
            throw new UpSettingsException($"--gateways {gateways} needs ports {uri.Port} to {uri.Port + gateways - 1} (COCOON_HTTP's port and the ones after it); choose a lower port in COCOON_HTTP.");
        }

        return new UpSettings(dataDir, url, redis, redis[..colon].Trim('[', ']'), port, configuredKey, gateway, worker, chainDir, tonUrl,
            configuration["Telegram:BotToken"] is { Length: > 0 }, tonUrl is not null && configuration["Ton:ApiKey"] is { Length: > 0 },
            ProofDomain(configuration, uri), gateways, workers);
    }

    /// <summary>How many gateways or workers to start: 1 when not given, else 1 to <paramref name="max"/>.</summary>
    private static int Count(IConfiguration configuration, string key, string option, int max)
    {
        if (configuration[key] is not { Length: > 0 } text)
        {
            return 1;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1 || n > max)
        {
            throw new UpSettingsException($"{option} ({key}) must be a whole number from 1 to {max}, not '{text}'.");
        }

        return n;
    }

    /// <summary>
    /// The host a wallet's <c>ton_proof</c> names for the local Mini App, so wallet login works under <c>up</c>: the
    /// Mini App's public URL when one is set (Telegram:MiniAppUrl, e.g. a tunnel), else COCOON_HTTP's host and port
    /// (a wildcard listen address becomes localhost). Null when Ton:Proof:AllowedDomains is set: the operator's list wins.
    /// </summary>
    internal static string? ProofDomain(IConfiguration configuration, Uri gatewayUrl)
    {
        if (configuration.GetSection("Ton:Proof:AllowedDomains").GetChildren().Any())
        {
            return null;
        }

        if (configuration["Telegram:MiniAppUrl"] is { Length: > 0 } miniApp && Uri.TryCreate(miniApp, UriKind.Absolute, out var miniAppUri) && miniAppUri.Host.Length > 0)
        {
            return miniAppUri.Authority;
        }

        return gatewayUrl.Host is "0.0.0.0" or "[::]" or "+" or "*"
            ? (gatewayUrl.IsDefaultPort ? "localhost" : $"localhost:{gatewayUrl.Port.ToString(CultureInfo.InvariantCulture)}")
            : gatewayUrl.Authority;
    }

    /// <summary>One of the programs up starts: given explicitly, and present.</summary>
    private static string RequiredProgram(IConfiguration configuration, string key, string option, string role, string project)
    {
        if (configuration[key] is not { Length: > 0 } path)
        {
            throw new UpSettingsException($"the {role} program is not given: pass {option} PATH ({key}) with the built {project} executable; ./cocoon up does this.");
        }

        path = Path.GetFullPath(path);
        if (!File.Exists(path))
        {
            throw new UpSettingsException($"the {role} program is missing at {path} ({option}, {key}): build the solution (./cocoon up does), or pass the path of the built {project}.");
        }

        return path;
    }
}
