using System.Text;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Telegram.Accounts;
using Cocoon.Bot.Telegram.Chats;
using Cocoon.Bot.Telegram.Hosting;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;
using global::Telegram.Bot;
using global::Telegram.Bot.Exceptions;
using global::Telegram.Bot.Types;
using global::Telegram.Bot.Types.InlineQueryResults;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Telegram.Guests;

/// <summary>
/// Guest mode (Bot API 10.0): a user @-mentions the bot in a chat it is not a member of; Telegram sends a
/// guest_message carrying a guest_query_id, and the bot posts its reply into that chat with answerGuestQuery (one
/// inline-style message). The asker pays from their own balance. The question is the whole context unless the asker
/// opted in with /guestmemory on: then their recent turns in that chat are kept, sealed like a private conversation.
/// The answer is sent once it is complete.
/// </summary>
public sealed partial class GuestHandler(
    ITelegramBotClient bot,
    BotIdentity identity,
    IDispatcher dispatcher,
    ILedger ledger,
    ConversationStore conversations,
    UserStore users,
    IOptions<TelegramOptions> options,
    ILogger<GuestHandler> logger)
{
    public async Task HandleAsync(Message message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!options.Value.GuestMode || message.GuestQueryId is not { Length: > 0 } queryId || message.From is not { IsBot: false } from)
        {
            return;
        }

        var me = await identity.GetAsync(cancellationToken).ConfigureAwait(false);
        var text = message.Text ?? message.Caption ?? string.Empty;
        var question = me.Username is { } name ? text.Replace("@" + name, string.Empty, StringComparison.OrdinalIgnoreCase).Trim() : text.Trim();
        if (question.Length == 0)
        {
            await AnswerAsync(queryId, new FormattedText("Ask me something after the mention, e.g. @" + me.Username + " what is a Merkle tree?", []), cancellationToken).ConfigureAwait(false);
            return;
        }

        var payer = AccountId.User(from.Id);
        if (await ledger.GetBalanceAsync(payer, cancellationToken).ConfigureAwait(false) <= 0)
        {
            await AnswerAsync(queryId, new FormattedText("Your balance is used up (or you haven't started me yet). Open a private chat with @" + me.Username + " and /topup, then ask again. (Your message was not sent to any worker.)", []), cancellationToken).ConfigureAwait(false);
            return;
        }

        var model = options.Value.DefaultModel;
        if (string.IsNullOrEmpty(model))
        {
            var served = await dispatcher.GetModelsAsync(cancellationToken).ConfigureAwait(false);
            model = served.FirstOrDefault(m => m.Workers.Count > 0)?.Name;
        }

        if (string.IsNullOrEmpty(model))
        {
            await AnswerAsync(queryId, new FormattedText("No worker is online right now, so I can't answer. Please try again in a few minutes.", []), cancellationToken).ConfigureAwait(false);
            return;
        }

        var remember = await users.GetGuestMemoryAsync(from.Id, cancellationToken).ConfigureAwait(false);
        var turns = new List<ChatMessage>(remember ? await conversations.LoadGuestAsync(from.Id, message.Chat.Id, cancellationToken).ConfigureAwait(false) : [])
        {
            new("user", question),
        };
        var answer = new StringBuilder();
        try
        {
            var request = new DispatchRequest
            {
                // The guest query id is unique per question, so a replayed update is the same job downstream.
                RequestId = "tg-guest-" + queryId,
                Payer = payer,
                Model = model,
                Generation = new GenerationRequest
                {
                    Messages = [.. ConversationStore.Fit(turns, options.Value.ContextTokens - options.Value.MaxAnswerTokens)],
                    Sampling = new SamplingOptions { MaxTokens = options.Value.MaxAnswerTokens },
                },
            };
            await foreach (var ev in dispatcher.DispatchAsync(request, cancellationToken).ConfigureAwait(false))
            {
                if (ev is DispatchPiece piece)
                {
                    answer.Append(piece.Text);
                }
            }
        }
        catch (InsufficientFundsException)
        {
            await AnswerAsync(queryId, new FormattedText("Your balance is used up. Top up in a private chat with @" + me.Username + " (/topup), then ask again.", []), cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (WorkersBusyException)
        {
            await AnswerAsync(queryId, new FormattedText($"Every worker for {model} is busy right now. Please try again in a minute.", []), cancellationToken).ConfigureAwait(false);
            return;
        }

        // One message: the first 4,096 characters (cut outside code and reasoning blocks); the rest is left out.
        var markdown = answer.ToString().Trim();
        if (markdown.Length == 0)
        {
            markdown = "(The model returned an empty answer.)";
        }

        var (head, restStart, _) = markdown.Length > MessageSplitter.MaxLength ? RichCut.CutFirst(markdown, MessageSplitter.MaxLength - 64) : (markdown, markdown.Length, string.Empty);
        if (restStart < markdown.Length)
        {
            head += "\n\n(The answer was longer; ask me in a private chat for all of it.)";
        }

        var rich = options.Value.RichAnswers ? RichTextRenderer.Render(head) : new FormattedText(head, []);
        try
        {
            await AnswerAsync(queryId, rich, cancellationToken).ConfigureAwait(false);
        }
        catch (ApiRequestException ex) when (AnswerStreamer.IsEntityError(ex))
        {
            await AnswerAsync(queryId, new FormattedText(head, []), cancellationToken).ConfigureAwait(false);
        }

        if (remember)
        {
            turns.Add(new ChatMessage("assistant", markdown));
            await conversations.SaveGuestAsync(from.Id, message.Chat.Id, turns, cancellationToken).ConfigureAwait(false);
        }

        LogAnswered(logger, from.Id);
    }

    private async Task AnswerAsync(string queryId, FormattedText text, CancellationToken cancellationToken)
    {
        var content = new InputTextMessageContent(text.Text)
        {
            Entities = text.Entities.Count > 0 ? [.. text.Entities] : null,
            LinkPreviewOptions = new LinkPreviewOptions { IsDisabled = true },
        };
        await bot.AnswerGuestQuery(queryId, new InlineQueryResultArticle("answer", "Cocoon", content), cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = LogEvents.Guests + 1, Level = LogLevel.Information, Message = "Answered a guest question from user {UserId}")]
    private static partial void LogAnswered(ILogger logger, long userId);
}
