using Cocoon.Bot.Telegram.Hosting;
using Cocoon.Bot.Telegram.Transport;
using global::Telegram.Bot;
using global::Telegram.Bot.Types.Enums;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Registry;

namespace Cocoon.Bot.Telegram.Updates;

/// <summary>
/// Connects the bot to Telegram: learns who it is, registers the command menu, replays updates that were accepted
/// but not handled before the last stop, then either long-polls getUpdates (default) or registers the webhook.
/// </summary>
public sealed partial class UpdateSource(
    ITelegramBotClient bot,
    BotIdentity identity,
    BlockedChats blocked,
    UpdateInbox inbox,
    UpdatePump pump,
    ResiliencePipelineProvider<string> pipelines,
    IOptions<TelegramOptions> options,
    ILogger<UpdateSource> logger) : BackgroundService
{
    // Both loops retry until Telegram answers or the host stops: without the Bot API there is nothing else to do.
    private readonly ResiliencePipeline _retry = pipelines.GetPipeline(TelegramResilience.Pipeline);

    internal static readonly UpdateType[] AllowedUpdates =
    [
        UpdateType.Message,
        UpdateType.EditedMessage,
        UpdateType.CallbackQuery,
        UpdateType.MyChatMember,
        UpdateType.PreCheckoutQuery,
        UpdateType.StoppedMessageGeneration,
        UpdateType.GuestMessage,
    ];

    /// <summary>What getUpdates and setWebhook ask for: the types above and widget_query (Bot API 10.4, /topup's widget).</summary>
    internal static readonly string[] AllowedUpdateNames = ExtendedUpdate.AllowedNames(AllowedUpdates, ExtendedUpdate.WidgetQueryName);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        await _retry.ExecuteAsync<bool>(async ct =>
        {
            var me = await identity.GetAsync(ct).ConfigureAwait(false);
            LogConnected(logger, me.Username ?? me.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), o.Mode);
            await blocked.LoadAsync(ct).ConfigureAwait(false);
            await CommandMenu.RegisterAsync(bot, ct).ConfigureAwait(false);
            if (o.Mode == TelegramMode.Webhook)
            {
                await bot.SendRequest(new SetExtendedWebhookRequest { Url = o.WebhookUrl!, AllowedUpdates = AllowedUpdateNames, SecretToken = o.WebhookSecret }, ct).ConfigureAwait(false);
            }
            else
            {
                // getUpdates answers 409 while a webhook is set; pending updates are kept.
                await bot.DeleteWebhook(dropPendingUpdates: false, cancellationToken: ct).ConfigureAwait(false);
            }

            return true;
        }, (outcome, _, delay) => LogStartFailed(logger, "start-up", delay, outcome.Exception), maxAttempts: null, stoppingToken).ConfigureAwait(false);

        // Updates accepted but not handled (by this replica before a restart, or by one that died) are handed out
        // again by a sweep, now and every half lease; a live replica's updates keep their lease and are left alone.
        var sweeping = SweepAsync(stoppingToken);
        if (o.Mode == TelegramMode.Polling)
        {
            await PollAsync(stoppingToken).ConfigureAwait(false);
        }

        await sweeping.ConfigureAwait(false);
    }

    private async Task SweepAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var claimed = await inbox.ClaimPendingAsync(stoppingToken).ConfigureAwait(false);
                if (claimed.Count > 0)
                {
                    LogReplaying(logger, claimed.Count);
                }

                foreach (var update in claimed)
                {
                    await pump.EnqueueAsync(update, stoppingToken).ConfigureAwait(false);
                }

                await Task.Delay(options.Value.InboxLease / 2, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
            {
                LogSweepFailed(logger, ex);
                await Task.Delay(options.Value.InboxLease / 2, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private async Task PollAsync(CancellationToken stoppingToken)
    {
        var offset = await inbox.GetOffsetAsync(stoppingToken).ConfigureAwait(false);
        while (!stoppingToken.IsCancellationRequested)
        {
            global::Telegram.Bot.Types.Update[] updates;
            try
            {
                updates = await _retry.ExecuteAsync(
                    async ct => (global::Telegram.Bot.Types.Update[])await bot.SendRequest(
                        new GetExtendedUpdatesRequest { Offset = (int)offset, Limit = 100, Timeout = options.Value.PollTimeoutSeconds, AllowedUpdates = AllowedUpdateNames }, ct).ConfigureAwait(false),
                    (outcome, _, delay) => LogPollFailed(logger, delay, outcome.Exception),
                    maxAttempts: null,
                    stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            if (updates.Length == 0)
            {
                continue;
            }

            var fresh = new List<global::Telegram.Bot.Types.Update>(updates.Length);
            foreach (var update in updates)
            {
                if (await inbox.AcceptAsync(update, stoppingToken).ConfigureAwait(false))
                {
                    fresh.Add(update);
                }
            }

            // Only now, with every update durable in the inbox, may Telegram forget them (the next call confirms).
            offset = updates.Max(u => u.Id) + 1;
            await inbox.SetOffsetAsync(offset, stoppingToken).ConfigureAwait(false);
            foreach (var update in fresh)
            {
                await pump.EnqueueAsync(update, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    [LoggerMessage(EventId = LogEvents.UpdateSource + 1, Level = LogLevel.Information, Message = "Telegram bot @{Username} connected ({Mode})")]
    private static partial void LogConnected(ILogger logger, string username, TelegramMode mode);

    [LoggerMessage(EventId = LogEvents.UpdateSource + 2, Level = LogLevel.Information, Message = "Handling {Count} Telegram updates left in the inbox (accepted before a restart, or by a replica that stopped)")]
    private static partial void LogReplaying(ILogger logger, int count);

    [LoggerMessage(EventId = LogEvents.UpdateSource + 3, Level = LogLevel.Warning, Message = "getUpdates failed; polling again in {Backoff}")]
    private static partial void LogPollFailed(ILogger logger, TimeSpan backoff, Exception? exception);

    [LoggerMessage(EventId = LogEvents.UpdateSource + 5, Level = LogLevel.Warning, Message = "The Telegram inbox sweep failed; trying again")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEvents.UpdateSource + 4, Level = LogLevel.Warning, Message = "Telegram {What} failed; retrying in {Backoff}")]
    private static partial void LogStartFailed(ILogger logger, string what, TimeSpan backoff, Exception? exception);
}
