using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Cocoon.Bot.Telegram.Updates;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Cocoon.Bot.Api;
using Cocoon.Bot.Dispatch;
using Cocoon.Network.Transport;
using Cocoon.Ledger;
using Cocoon.Bot.Telegram;
using Cocoon.Ledger.Accounts;
using Cocoon.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>The real bot (AddTelegram) in a host, pointed at a FakeBotApi and a real Redis, with a unique key prefix.</summary>
public sealed class BotHarness : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly TempDir? _ownData;

    private BotHarness(IHost host, IConnectionMultiplexer redis, TempDir? ownData)
    {
        _host = host;
        Redis = redis;
        _ownData = ownData;
    }

    public ILedger Ledger => Get<ILedger>();

    public IServiceProvider Services => _host.Services;

    public IConnectionMultiplexer Redis { get; }

    public static string NewPrefix() => "t" + Guid.NewGuid().ToString("N")[..10];

    public static string NewHostKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public static async Task<BotHarness> StartAsync(
        RedisServer redis,
        FakeBotApi api,
        IDispatcher dispatcher,
        ILedger? ledger,
        string prefix,
        string hostKey,
        IDictionary<string, string?>? settings = null,
        Action<IServiceCollection>? services = null,
        string? dataDir = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentNullException.ThrowIfNull(api);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var ownData = dataDir is null ? new TempDir("cocoon-bot") : null;
        var config = new Dictionary<string, string?>
        {
            ["Cocoon:DataDir"] = dataDir ?? ownData!.Path,
            ["Redis:Endpoint"] = redis.Endpoint,
            ["Redis:Prefix"] = prefix + ":net:",
            ["Telegram:BotToken"] = FakeBotApi.Token,
            ["Telegram:ApiBaseUrl"] = api.BaseUrl,
            ["Telegram:RedisPrefix"] = prefix,
            ["Telegram:HostKey"] = hostKey,
            ["Telegram:PollTimeoutSeconds"] = "1",
            ["Telegram:EditInterval"] = "00:00:00.200",
            ["Telegram:GroupEditInterval"] = "00:00:00.200",
            ["Telegram:FreeAllowanceNanotons"] = "50000000",

            // The answer tests compare the model's text exactly; TierTests turn the tier line under answers back on.
            ["Telegram:ShowTier"] = "false",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>())
        {
            config[k] = v;
        }

        builder.Configuration.AddInMemoryCollection(config);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(3));
        var multiplexer = redis.Connect();
        builder.Services.AddSingleton<IConnectionMultiplexer>(multiplexer);
        builder.Services.AddSingleton(dispatcher);
        if (ledger is null)
        {
            // The real ledger on a SQLite file in the data folder.
            builder.Services.AddCocoonLedger(builder.Configuration);
        }
        else
        {
            builder.Services.AddSingleton(ledger);

            // API keys live in the ledger database, which a given ledger double does not bring.
            builder.Services.AddSingleton(_ => Cocoon.Ledger.LedgerServiceCollectionExtensions.CreateDatabase(builder.Configuration));
        }

        builder.Services.AddCocoonRedis(builder.Configuration);
        builder.Services.AddSingleton<ApiKeyStore>();
        builder.Services.AddSingleton<Cocoon.Network.Providers.RedisProviderStore>();
        builder.Services.AddSingleton<Cocoon.Network.Providers.IProviderStore, Cocoon.Bot.Providers.LedgerProviderStore>();
        services?.Invoke(builder.Services);
        builder.AddTelegram();
        var host = builder.Build();
        await host.StartAsync();
        return new BotHarness(host, multiplexer, ownData);
    }

    /// <summary>Delivers an update as Telegram's webhook POST would, with the secret header (or none); returns the status.</summary>
    public async Task<int> PostWebhookAsync(JsonObject update, string? secret)
    {
        ArgumentNullException.ThrowIfNull(update);
        var context = new DefaultHttpContext { RequestServices = Services };
        if (secret is not null)
        {
            context.Request.Headers[WebhookEndpoint.SecretHeader] = secret;
        }

        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(update.ToJsonString()));
        context.Response.Body = new MemoryStream();
        var result = await WebhookEndpoint.HandleAsync(context, Get<UpdateInbox>(), Get<UpdatePump>(), Get<IOptions<TelegramOptions>>());
        await result.ExecuteAsync(context);
        return context.Response.StatusCode;
    }

    public T Get<T>()
        where T : notnull => _host.Services.GetRequiredService<T>();

    public async Task StopAsync() => await _host.StopAsync();

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync();
        }
        catch (OperationCanceledException)
        {
        }

        _host.Dispose();
        await Redis.DisposeAsync();
        _ownData?.Dispose();
    }
}
