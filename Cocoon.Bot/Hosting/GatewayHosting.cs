using Cocoon.Bot.Api;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Observability;
using Cocoon.Network.Hosting;
using Cocoon.Network.Observability;
using Cocoon.Ledger;
using Cocoon.Ledger.Chain;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Cocoon.Bot.Hosting;

/// <summary>The gateway host's composition: what Program.cs calls.</summary>
public static class GatewayHosting
{
    /// <summary>Meters exported on /metrics: the dispatcher's and the API's.</summary>
    public static readonly string[] Meters = [GatewayMetrics.MeterName, ApiMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel"];

    /// <summary>Label combinations one instrument may export; more are counted in its overflow series.</summary>
    public const int MaxSeriesPerInstrument = 256;

    /// <summary>Configuration, options, the shared Redis connection, API keys, the API and metrics.</summary>
    public static WebApplicationBuilder AddCocoonGateway(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        AddCocoonEnvironmentBeforeCommandLine(builder.Configuration);

        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<GatewayOptions>()
            .Bind(builder.Configuration.GetSection(GatewayOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        services.AddOptions<KestrelServerOptions>()
            .Configure<IOptions<GatewayOptions>>((kestrel, gateway) => kestrel.Limits.MaxRequestBodySize = gateway.Value.MaxRequestBodyBytes);

        // --urls and ASPNETCORE_URLS win; otherwise COCOON_HTTP (Gateway:Url) decides where Kestrel listens.
        if (string.IsNullOrEmpty(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls(builder.Configuration[$"{GatewayOptions.Section}:Url"] is { Length: > 0 } url ? url : CocoonEnvironment.DefaultHttp);
        }

        // The dispatcher brings the shared Redis connection (Redis:*), the worker directory and its Meter.
        services.AddDispatch(builder.Configuration);
        Join.JoinServiceCollectionExtensions.AddWorkerJoin(services, builder.Configuration);
        services.AddCocoonLedger(builder.Configuration);

        // TON deposits, payouts and the Mini App's wallet login need a chain API (toncenter, or the local chain that
        // `up` starts); without one the API, the bot and Stars payments still run, and the Mini App says TON is off.
        // ton_proof payloads live in Redis, bound to the user, so every replica checks what any replica issued.
        services.AddSingleton<Cocoon.Ledger.Ton.ITonProofNonces, MiniApp.RedisTonProofNonces>();
        if (!ChainSetup.UsesLocalChain(builder.Configuration))
        {
            services.AddTonChain(builder.Configuration).AddTonBackgroundServices();
            services.AddOptions<Payouts.ThresholdPayoutOptions>()
                .Bind(builder.Configuration.GetSection(Payouts.ThresholdPayoutOptions.Section))
                .ValidateDataAnnotations()
                .ValidateOnStart();
            services.AddHostedService<Payouts.ThresholdPayoutService>();
            Receipts.ReceiptAnchoringServiceCollectionExtensions.AddReceiptAnchoring(services, builder.Configuration);
        }

        services.AddSingleton<ApiKeyStore>();

        // Provider profiles (payout addresses, price overrides, token hashes) live in the ledger database.
        services.AddSingleton<Cocoon.Network.Providers.RedisProviderStore>();
        services.Replace(ServiceDescriptor.Singleton<Cocoon.Network.Providers.IProviderStore, Providers.LedgerProviderStore>());
        services.AddSingleton<ServedModels>();
        // The one payout rule, for the bot's /provider payout and the Mini App's provider screen.
        services.TryAddSingleton<Providers.ProviderPayouts>();
        services.AddSingleton<ApiMetrics>();
        services.AddApiKeyAuthentication();
        services.TryAddSingleton<MiniApp.WalletLinks>(); // also added by AddSlashing (StakeCache needs it): one instance
        services.AddSingleton<MiniApp.MiniAppUsage>();
        services.AddSingleton<LocalApiKeyRegistration>();
        services.AddHostedService(sp => sp.GetRequiredService<LocalApiKeyRegistration>());

        // Labels are bounded where they are set (ApiMetrics, GatewayMetrics; ASP.NET Core maps unknown methods to
        // _OTHER and paths to route templates); the cap on label combinations per instrument is the backstop: past it
        // the SDK counts into one otel_metric_overflow series, so no input can grow /metrics without end.
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(Meters)
            .AddView(_ => new MetricStreamConfiguration { CardinalityLimit = MaxSeriesPerInstrument })
            .AddPrometheusExporter());

        // Traces only when a collector is configured; the HTTP request is the root span, the dispatch and its
        // attempts its children, and the worker's job joins through the envelope. /metrics and /healthz are left out.
        services.AddCocoonTracing(builder.Configuration, "cocoon-gateway", tracing => tracing.AddAspNetCoreInstrumentation(o =>
            o.Filter = context => !context.Request.Path.StartsWithSegments("/metrics") && !context.Request.Path.StartsWithSegments("/healthz")));
        return builder;
    }

    /// <summary>/v1 (OpenAI-compatible), /healthz and /metrics.</summary>
    public static WebApplication MapCocoonGateway(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);

        // Outermost, so a fault in routing or the API key handler (e.g. Redis gone mid-lookup) also gets a JSON body;
        // routing and authentication are then placed explicitly after it instead of implicitly before everything.
        app.UseMiddleware<ErrorBodyMiddleware>();
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapOpenAiApi();
        Join.JoinEndpoints.MapJoin(app);
        Telegram.Providers.ProviderStatusEndpoint.MapProviderStatus(app);
        app.MapHealth();
        app.MapPrometheusScrapingEndpoint("/metrics");
        MiniApp.MiniAppEndpoints.MapMiniApp(app);
        return app;
    }

    /// <summary>COCOON_* variables win over appsettings, command-line arguments win over both (as in ASP.NET Core).</summary>
    private static void AddCocoonEnvironmentBeforeCommandLine(ConfigurationManager configuration)
    {
        configuration.AddCocoonEnvironment();
        var sources = configuration.Sources;
        var added = sources[^1];
        var commandLine = sources.Select((s, i) => (s, i)).FirstOrDefault(x => x.s is Microsoft.Extensions.Configuration.CommandLine.CommandLineConfigurationSource);
        if (commandLine.s is not null && commandLine.i < sources.Count - 1)
        {
            sources.RemoveAt(sources.Count - 1);
            sources.Insert(commandLine.i, added);
        }
    }
}
