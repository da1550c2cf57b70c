using Microsoft.Extensions.Configuration;

namespace Cocoon.Network.Hosting;

/// <summary>
/// The environment variables operators and the README rely on, mapped onto configuration keys so that
/// appsettings.json and the environment configure the same options. An environment variable wins.
/// </summary>
public static class CocoonEnvironment
{
    /// <summary>Environment variable name → configuration key.</summary>
    public static IReadOnlyDictionary<string, string> Variables { get; } = new Dictionary<string, string>
    {
        ["COCOON_MODEL"] = "Worker:Model",
        ["COCOON_DATA"] = "Cocoon:DataDir",
        ["COCOON_REDIS"] = "Redis:Endpoint",
        ["COCOON_REDIS_CA"] = "Redis:TlsCaFile",
        ["COCOON_HTTP"] = "Gateway:Url",
        ["COCOON_API_KEY"] = "Gateway:ApiKey",
        ["TELEGRAM_BOT_TOKEN"] = "Telegram:BotToken",
        ["TELEGRAM_API_BASE_URL"] = "Telegram:ApiBaseUrl",
        ["COCOON_LLAMA_BACKEND"] = "Llama:Backend",
        ["COCOON_LLAMA_LIB_DIR"] = "Llama:LibraryDir",
        ["COCOON_WORKER_TOKEN"] = "Worker:Token",
        ["COCOON_JOIN_URL"] = "Worker:JoinUrl",
        ["COCOON_WORKER_ID"] = "Worker:Id",
        ["COCOON_TEE"] = "Worker:Tee",
        ["COCOON_PROVIDER_KEY"] = "Worker:ProviderKey",
    };

    /// <summary>Default data folder: ./.cocoon relative to the working directory (git-ignored).</summary>
    public const string DefaultDataDir = ".cocoon";

    public const string DefaultHttp = "http://127.0.0.1:8080";

    public const string DefaultRedis = "127.0.0.1:6379";

    /// <summary>Adds the COCOON_* variables (after appsettings, so they win).</summary>
    public static IConfigurationBuilder AddCocoonEnvironment(this IConfigurationBuilder builder, IDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var values = new Dictionary<string, string?>();
        foreach (var (variable, key) in Variables)
        {
            var value = environment is null
                ? Environment.GetEnvironmentVariable(variable)
                : environment.TryGetValue(variable, out var v) ? v : null;
            if (!string.IsNullOrEmpty(value))
            {
                values[key] = value;
            }
        }

        return builder.AddInMemoryCollection(values);
    }

    /// <summary>The absolute data folder from configuration, created if missing.</summary>
    public static string DataDir(IConfiguration configuration)
    {
        var dir = DataDirPath(configuration);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>The absolute data folder from configuration, without touching the disk (for validation).</summary>
    public static string DataDirPath(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return Path.GetFullPath(configuration["Cocoon:DataDir"] is { Length: > 0 } d ? d : DefaultDataDir);
    }
}
