using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Telegram.Accounts;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;
using global::Telegram.Bot.Types.ReplyMarkups;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Telegram.Chats;

public sealed record AskRequest(
    long ChatId,
    bool IsPrivate,
    long UserId,
    AccountId Payer,
    int MessageId,
    int? ThreadId,
    IReadOnlyList<ChatMessage> Messages,
    string? Model,
    IReadOnlyList<string>? Tiers = null);

public enum AskOutcome
{
    Answered,
    NoFunds,
    NoModel,
    Busy,
}

public sealed record AskResult(AskOutcome Outcome, StreamResult? Stream = null);

/// <summary>
/// Turns a chat message into a dispatch and streams the answer back. The dispatcher resolves the model (the chat's,
/// the configured default, or the first one served) and its hold is the balance check: a refused hold
/// (InsufficientFundsException) is answered with a clear message and a top-up button, and no job is sent.
/// </summary>
public sealed partial class AnswerService(
    IDispatcher dispatcher,
    AnswerStreamer streamer,
    ChatSender sender,
    IOptions<TelegramOptions> options,
    ILogger<AnswerService> logger)
{
    public async Task<AskResult> AskAsync(AskRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var model = request.Model ?? (string.IsNullOrEmpty(options.Value.DefaultModel) ? null : options.Value.DefaultModel);
        var dispatch = new DispatchRequest
        {
            // Deterministic, so a replayed update is recognised downstream as the same job.
            RequestId = $"tg-{request.ChatId}-{request.MessageId}",
            Payer = request.Payer,
            Model = model,

            // The user's /tier setting; null leaves the gateway's default (never consumer unless the user opted in).
            Tiers = request.Tiers,
            Generation = new GenerationRequest
            {
                Messages = request.Messages,
                Sampling = new SamplingOptions { MaxTokens = options.Value.MaxAnswerTokens },
            },

            // One conversation per chat (and forum topic): its turns share a worker's prefix cache, scoped to the payer.
            Conversation = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"tg:{request.ChatId}:{request.ThreadId}"),
        };

        var target = new StreamTarget(request.ChatId, request.IsPrivate, request.IsPrivate ? null : request.MessageId, request.ThreadId, DraftId: request.MessageId, dispatch.RequestId);
        try
        {
            var result = await streamer.StreamAsync(target, dispatcher.DispatchAsync(dispatch, cancellationToken), cancellationToken).ConfigureAwait(false);
            return new AskResult(AskOutcome.Answered, result);
        }
        catch (InsufficientFundsException ex)
        {
            LogNoFunds(logger, request.Payer.Value, ex.Needed, ex.Available);
            await SendNoFundsAsync(request, ex.Available, cancellationToken).ConfigureAwait(false);
            return new AskResult(AskOutcome.NoFunds);
        }
        catch (WorkersBusyException ex)
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(ex.RetryAfter.TotalSeconds));
            var who = model is null ? "Every worker" : $"Every worker for {model}";
            await sender.SendAsync(request.ChatId, $"{who} is busy right now. Please try again in about {seconds} s.", cancellationToken, replyTo: request.IsPrivate ? null : request.MessageId, threadId: request.ThreadId).ConfigureAwait(false);
            return new AskResult(AskOutcome.Busy);
        }
        catch (ModelUnavailableException) when (request.Tiers is not null)
        {
            await sender.SendAsync(request.ChatId, $"No worker in the tiers you accept ({string.Join(", ", request.Tiers)}) is online right now. /tier changes which tiers you accept.", cancellationToken, replyTo: request.IsPrivate ? null : request.MessageId, threadId: request.ThreadId).ConfigureAwait(false);
            return new AskResult(AskOutcome.NoModel);
        }
        catch (ModelUnavailableException) when (model is null)
        {
            await sender.SendAsync(request.ChatId, "No worker is online right now, so I can't answer. Please try again in a few minutes.", cancellationToken, replyTo: request.IsPrivate ? null : request.MessageId, threadId: request.ThreadId).ConfigureAwait(false);
            return new AskResult(AskOutcome.NoModel);
        }
    }

    private async Task SendNoFundsAsync(AskRequest request, long balance, CancellationToken cancellationToken)
    {
        if (request.IsPrivate)
        {
            var markup = new InlineKeyboardMarkup(InlineKeyboardButton.WithCallbackData("Top up", CallbackData.TopUpMenu));
            await sender.SendAsync(
                request.ChatId,
                $"Your balance is {Money.Ton(balance)}, not enough for an answer. Top up with Telegram Stars or TON, then ask again. (Your message was not sent to any worker.)",
                cancellationToken,
                markup).ConfigureAwait(false);
            return;
        }

        if (request.Payer.Value.StartsWith("group:", StringComparison.Ordinal))
        {
            await sender.SendAsync(request.ChatId, "This group's budget is used up. Anyone can add to it with /topup here. (Your message was not sent to any worker.)", cancellationToken, replyTo: request.MessageId, threadId: request.ThreadId).ConfigureAwait(false);
            return;
        }

        // The asker's own balance is nobody else's business: only they see this (an ephemeral message).
        await sender.SendToMemberAsync(request.ChatId, request.UserId, "Your balance is used up. Top up in a private chat with me (/topup), then ask again. (Your message was not sent to any worker.)", cancellationToken, replyTo: request.MessageId, threadId: request.ThreadId).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = LogEvents.AnswerService + 1, Level = LogLevel.Information, Message = "Account {Account} cannot cover a job: needs {Needed}, has {Available} nanotons")]
    private static partial void LogNoFunds(ILogger logger, string account, long needed, long available);
}
