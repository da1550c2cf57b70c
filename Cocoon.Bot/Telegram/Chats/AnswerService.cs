using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Telegram.Accounts;
using Cocoon.Bot.Telegram.Updates;
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
    AnswerRecords records,
    AnswerFaultPoints faults,
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

            // Stop keeps the text so far as the final message: it must be exactly the part billed.
            KeepStoppedPart = true,
        };

        var target = new StreamTarget(request.ChatId, request.IsPrivate, request.IsPrivate ? null : request.MessageId, request.ThreadId, DraftId: request.MessageId, dispatch.RequestId);

        // The same message handled again (its update replayed after a crash): an answer already sent is not sent again,
        // and one already settled is sent from its kept copy, without asking any worker.
        // Keyed by the update's id: only a replay of the very same update finds the record.
        var recordId = HandledUpdate.Current is { } updateId ? updateId.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        var (progress, kept) = recordId is null ? (AnswerProgress.None, null) : await records.GetAsync(recordId, cancellationToken).ConfigureAwait(false);
        if (progress == AnswerProgress.Sent)
        {
            LogAlreadySent(logger, dispatch.RequestId);
            return new AskResult(AskOutcome.Answered, kept is null ? null : new StreamResult(kept.Text, kept.Receipt, kept.Stopped));
        }

        var events = progress == AnswerProgress.Settled && kept is not null
            ? Kept(dispatch.RequestId, kept)
            : Settling(recordId, dispatcher.DispatchAsync(dispatch, cancellationToken), cancellationToken);
        try
        {
            var result = await streamer.StreamAsync(target, events, cancellationToken).ConfigureAwait(false);
            await RecordAsync(recordId, new KeptAnswer(result.Text, result.Receipt, result.Stopped), sent: true, cancellationToken).ConfigureAwait(false);
            if (faults.AfterSent is { } afterSent)
            {
                await afterSent(dispatch.RequestId, cancellationToken).ConfigureAwait(false);
            }

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

    /// <summary>The dispatch's events; once it is settled (its receipt came), the answer is kept before anything else happens.</summary>
    private async IAsyncEnumerable<DispatchEvent> Settling(
        string? recordId, IAsyncEnumerable<DispatchEvent> events, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var text = new System.Text.StringBuilder();
        await foreach (var ev in events.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (ev is DispatchPiece piece)
            {
                text.Append(piece.Text);
            }
            else if (ev is DispatchCompleted done)
            {
                await RecordAsync(recordId, new KeptAnswer(text.ToString(), done.Receipt, Stopped: false), sent: false, cancellationToken).ConfigureAwait(false);
                if (faults.AfterSettled is { } afterSettled)
                {
                    await afterSettled(done.Receipt.RequestId, cancellationToken).ConfigureAwait(false);
                }
            }

            yield return ev;
        }
    }

    /// <summary>A settled answer played back from its kept copy: what the dispatcher said, without asking it again.</summary>
    private async IAsyncEnumerable<DispatchEvent> Kept(string requestId, KeptAnswer kept)
    {
        LogSendingKept(logger, requestId);
        await Task.CompletedTask.ConfigureAwait(false);
        yield return new DispatchPiece(kept.Text);
        if (kept.Receipt is { } receipt)
        {
            yield return new DispatchCompleted(receipt);
        }
    }

    /// <summary>
    /// Keeps how far the answer got. A failed write only loses the protection against a crash right after it (the
    /// ledger's key still keeps a replay from charging twice), so it is logged and the answer goes on.
    /// </summary>
    private async Task RecordAsync(string? recordId, KeptAnswer answer, bool sent, CancellationToken cancellationToken)
    {
        if (recordId is null)
        {
            return;
        }

        try
        {
            if (sent)
            {
                await records.SentAsync(recordId, answer, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await records.SettledAsync(recordId, answer, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
        {
            LogRecordFailed(logger, recordId, sent ? "sent" : "settled", ex);
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

    [LoggerMessage(EventId = LogEvents.AnswerService + 2, Level = LogLevel.Information, Message = "Request {RequestId} was answered before (its update came back): nothing sent again")]
    private static partial void LogAlreadySent(ILogger logger, string requestId);

    [LoggerMessage(EventId = LogEvents.AnswerService + 3, Level = LogLevel.Information, Message = "Request {RequestId} was settled before its answer went out: sending the kept answer, no new job")]
    private static partial void LogSendingKept(ILogger logger, string requestId);

    [LoggerMessage(EventId = LogEvents.AnswerService + 4, Level = LogLevel.Warning, Message = "Could not record the answer to update {UpdateId} as {Progress}; a crash now would let a replay answer it again")]
    private static partial void LogRecordFailed(ILogger logger, string updateId, string progress, Exception exception);

    [LoggerMessage(EventId = LogEvents.AnswerService + 1, Level = LogLevel.Information, Message = "Account {Account} cannot cover a job: needs {Needed}, has {Available} nanotons")]
    private static partial void LogNoFunds(ILogger logger, string account, long needed, long available);
}
