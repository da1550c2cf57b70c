using global::Telegram.Bot;
using global::Telegram.Bot.Types;

namespace Cocoon.Bot.Telegram.Hosting;

/// <summary>The command menu Telegram shows: everything in private chats, the group commands in groups.</summary>
public static class CommandMenu
{
    public static IReadOnlyList<BotCommand> Private { get; } =
    [
        new("start", "Welcome and how privacy works"),
        new("help", "What I can do"),
        new("new", "Start a new conversation"),
        new("model", "Choose the model"),
        new("balance", "Your balance"),
        new("usage", "Recent answers: tokens and cost"),
        new("privacy", "Who answered your last prompt, under which attestation"),
        new("tier", "Which trust tiers may answer you (tee, simulated, consumer)"),
        new("topup", "Add credit with Telegram Stars or TON"),
        new("apikey", "Create or revoke a key for the /v1 API"),
        new("provider", "Sell inference: register, status, earnings, stake, payout"),
        new("forget", "Delete everything stored about you"),
    ];

    public static IReadOnlyList<BotCommand> Groups { get; } =
    [
        new("ask", "Ask the AI"),
        new("balance", "Your balance (only you see it)"),
        new("settings", "Group settings (admins)"),
        new("help", "What I can do here"),
    ];

    public static async Task RegisterAsync(ITelegramBotClient bot, CancellationToken cancellationToken)
    {
        await bot.SetMyCommands(Private, new BotCommandScopeAllPrivateChats(), cancellationToken: cancellationToken).ConfigureAwait(false);
        await bot.SetMyCommands(Groups, new BotCommandScopeAllGroupChats(), cancellationToken: cancellationToken).ConfigureAwait(false);
    }
}
