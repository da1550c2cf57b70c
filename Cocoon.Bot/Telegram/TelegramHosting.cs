using Cocoon.Bot.Telegram.Accounts;
using Cocoon.Bot.Telegram.Chats;
using Cocoon.Bot.Telegram.Groups;
using Cocoon.Bot.Telegram.Guests;
using Cocoon.Bot.Telegram.Hosting;
using Cocoon.Bot.Telegram.Payments;
using Cocoon.Bot.Telegram.Providers;
using Cocoon.Bot.Telegram.Transport;
using Cocoon.Bot.Telegram.Updates;
using Cocoon.Network.Hosting;
using global::Telegram.Bot;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Telegram;

/// <summary>
/// Wires the bot into the gateway host: <c>builder.AddTelegram()</c> before Build, <c>app.MapTelegram()</c> after.
/// Without a bot token nothing Telegram runs and a log line says why. The bot needs IDispatcher and ILedger from
/// the host, and an IConnectionMultiplexer (registered here from Redis:Endpoint if the host has none).
/// </summary>
public static partial class TelegramHosting
{
    public const string HttpClientName = "telegram-bot-api";

    public static IHostApplicationBuilder AddTelegram(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<TelegramOptions>()
            .Bind(builder.Configuration.GetSection(TelegramOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();

        var enabled = !string.IsNullOrWhiteSpace(builder.Configuration[$"{TelegramOptions.Section}:BotToken"]);
        if (!enabled)
        {
            services.AddHostedService<TelegramOffNotice>();
            return builder;
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(
            new ConfigurationOptions
            {
                EndPoints = { builder.Configuration["Redis:Endpoint"] is { Length: > 0 } e ? e : CocoonEnvironment.DefaultRedis },
                AbortOnConnectFail = false,
            }));
        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<TelegramOptions>>().Value;
            return new TelegramKeys(o.RedisPrefix, o.BotId);
        });
        services.AddSingleton(sp => HostKeySealer.FromConfiguration(sp.GetRequiredService<IOptions<TelegramOptions>>().Value.HostKey));

        services.AddSingleton(sp => new SendThrottle(
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IOptions<TelegramOptions>>().Value.MessagesPerSecond,
            burst: sp.GetRequiredService<IOptions<TelegramOptions>>().Value.MessagesPerSecond));
        services.AddSingleton<BlockedChats>();
        services.AddTelegramResilience();
        services.AddTransient<BotApiHandler>();
        services.AddHttpClient(HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(90))
            .AddHttpMessageHandler<BotApiHandler>();
        services.AddSingleton<ITelegramBotClient>(sp =>
        {
            var o = sp.GetRequiredService<IOptions<TelegramOptions>>().Value;
            // Retries are BotApiHandler's job (the telegram-bot-api pipeline); the library must not retry on top of it.
            var clientOptions = new TelegramBotClientOptions(o.BotToken!, string.IsNullOrEmpty(o.ApiBaseUrl) ? null : o.ApiBaseUrl.TrimEnd('/'))
            {
                RetryThreshold = 0,
                RetryCount = 0,
            };
            return new TelegramBotClient(clientOptions, sp.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName));
        });

        services.AddSingleton<BotIdentity>();
        services.AddSingleton<UpdateInbox>();
        services.AddSingleton<ChatSender>();
        services.AddSingleton<AnswerStreamer>();
        services.AddSingleton<GenerationStops>();
        services.AddSingleton<GuestHandler>();
        services.AddSingleton<AnswerService>();
        services.AddSingleton<AnswerRecords>();
        services.TryAddSingleton<AnswerFaultPoints>();
        services.AddSingleton<Receipts.VerifyButton>();
        services.AddSingleton<ConversationStore>();
        services.AddSingleton<UserStore>();
        services.AddSingleton<PrivateChatHandler>();
        services.AddSingleton<TierCommands>();
        services.AddSingleton<GroupSettingsStore>();
        services.AddSingleton(sp => new GroupRateLimiter(
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IOptions<TelegramOptions>>().Value.GroupMessagesPerMinute));
        services.AddSingleton<GroupHandler>();
        services.AddSingleton<StarsPayments>();
        services.TryAddSingleton<ProviderStatus>();
        services.AddSingleton<ProviderCommands>();
        services.TryAddSingleton<Cocoon.Bot.Providers.ProviderPayouts>();
        services.AddSingleton<ApiKeyCommands>();
        services.AddSingleton<Widgets.TopUpWidgets>();
        services.AddSingleton<UpdateRouter>();

        // The pump starts before the source and stops after it, so nothing is queued into a stopped pump.
        services.AddSingleton<UpdatePump>();
        services.AddHostedService(sp => sp.GetRequiredService<UpdatePump>());
        services.AddHostedService<UpdateSource>();
        return builder;
    }

    /// <summary>Maps the webhook endpoint when the bot runs in webhook mode (nothing otherwise).</summary>
    public static WebApplication MapTelegram(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var o = app.Services.GetRequiredService<IOptions<TelegramOptions>>().Value;
        if (o.Enabled && o.Mode == TelegramMode.Webhook)
        {
            app.MapTelegramWebhook(o.WebhookPath);
        }

        return app;
    }

    private sealed partial class TelegramOffNotice(ILogger<TelegramOffNotice> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            LogOff(logger);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(EventId = LogEvents.TelegramHosting + 1, Level = LogLevel.Warning,
            Message = "Telegram is off: TELEGRAM_BOT_TOKEN (Telegram:BotToken) is not set. Set it to a token from @BotFather to run the bot; the API and Mini App run without it.")]
        private static partial void LogOff(ILogger logger);
    }
}
