namespace Cocoon.Bot.Telegram.Chats;

/// <summary>callback_data of the bot's inline buttons (at most 64 bytes each).</summary>
public static class CallbackData
{
    public const string TopUpMenu = "topup";
    public const string ModelPrefix = "m:";
    public const string TierPrefix = "tier:";
    public const string StarsPrefix = "stars:";
    public const string GroupStarsPrefix = "gstars:";
}
