namespace Cocoon.Ledger.Ton;

/// <summary>
/// The public code of the standard wallets, as bags of cells (the same constants every TON SDK embeds).
/// The tests check them against @ton/ton.
/// </summary>
internal static class WalletCode
{
    public const string V4R2Hex = "b5ee9c72010214010002d4000114ff00f4a413f4bcf2c80b01020120020f020148030602e6d001d0d3032171b0925f04e022d749c120925f04e002d31f218210706c7567bd22821064737472bdb0925f05e003fa403020fa4401c8ca07cbffc9d0ed44d0810140d721f404305c810108f40a6fa131b3925f07e005d33fc8258210706c7567ba923830e30d03821064737472ba925f06e30d0405007801fa00f40430f8276f2230500aa121bef2e0508210706c7567831eb17080185004cb0526cf1658fa0219f400cb6917cb1f5260cb3f20c98040fb0006008a5004810108f45930ed44d0810140d720c801cf16f400c9ed540172b08e23821064737472831eb17080185005cb055003cf1623fa0213cb6acb1fcb3fc98040fb00925f03e2020120070e020120080d020158090a003db29dfb513420405035c87d010c00b23281f2fff274006040423d029be84c600201200b0c0019adce76a26840206b90eb85ffc00019af1df6a26840106b90eb858fc00011b8c97ed44d0d70b1f80059bd242b6f6a2684080a06b90fa0218470d4080847a4937d29910ce6903e9ff9837812801b7810148987159f318404f8f28308d71820d31fd31fd31f02f823bbf264ed44d0d31fd31fd3fff404d15143baf2a15151baf2a205f901541064f910f2a3f80024a4c8cb1f5240cb1f5230cbff5210f400c9ed54f80f01d30721c0009f6c519320d74a96d307d402fb00e830e021c001e30021c002e30001c0039130e30d03a4c8cb1f12cb1fcbff10111213006ed207fa00d4d422f90005c8ca0715cbffc9d077748018c8cb05cb0222cf165005fa0214cb6b12ccccc973fb00c84014810108f451f2a7020070810108d718fa00d33fc8542047810108f451f2a782106e6f746570748018c8cb05cb025006cf165004fa0214cb6a12cb1fcb3fc973fb0002006c810108d718fa00d33f305224810108f459f2a782106473747270748018c8cb05cb025005cf165003fa0213cb6acb1f12cb3fc973fb00000af400c9ed54";

    public const string V5R1Hex = "b5ee9c7201021401000281000114ff00f4a413f4bcf2c80b01020120020d020148030402dcd020d749c120915b8f6320d70b1f2082106578746ebd21821073696e74bdb0925f03e082106578746eba8eb48020d72101d074d721fa4030fa44f828fa443058bd915be0ed44d0810141d721f4058307f40e6fa1319130e18040d721707fdb3ce03120d749810280b99130e070e2100f020120050c020120060902016e07080019adce76a2684020eb90eb85ffc00019af1df6a2684010eb90eb858fc00201480a0b0017b325fb51341c75c875c2c7e00011b262fb513435c280200019be5f0f6a2684080a0eb90fa02c0102f20e011e20d70b1f82107369676ebaf2e08a7f0f01e68ef0eda2edfb218308d722028308d723208020d721d31fd31fd31fed44d0d200d31f20d31fd3ffd70a000af90140ccf9109a28945f0adb31e1f2c087df02b35007b0f2d0845125baf2e0855036baf2e086f823bbf2d0882292f800de01a47fc8ca00cb1f01cf16c9ed542092f80fde70db3cd81003f6eda2edfb02f404216e926c218e4c0221d73930709421c700b38e2d01d72820761e436c20d749c008f2e09320d74ac002f2e09320d71d06c712c2005230b0f2d089d74cd7393001a4e86c128407bbf2e093d74ac000f2e093ed55e2d20001c000915be0ebd72c08142091709601d72c081c12e25210b1e30f20d74a111213009601fa4001fa44f828fa443058baf2e091ed44d0810141d718f405049d7fc8ca0040048307f453f2e08b8e14038307f45bf2e08c22d70a00216e01b3b0f2d090e2c85003cf1612f400c9ed54007230d72c08248e2d21f2e092d200ed44d0d2005113baf2d08f54503091319c01810140d721d70a00f2e08ee2c8ca0058cf16c9ed5493f2c08de20010935bdb31e1d74cd0";

    public static Cell V4R2 { get; } = BagOfCells.ParseSingleRoot(Convert.FromHexString(V4R2Hex));

    public static Cell V5R1 { get; } = BagOfCells.ParseSingleRoot(Convert.FromHexString(V5R1Hex));
}

/// <summary>The standard wallet v4r2: an address, its state init and signed external transfers of up to 4 messages.</summary>
public sealed class WalletV4R2
{
    public const uint DefaultSubwalletBase = 698983191;

    public WalletV4R2(ReadOnlySpan<byte> publicKey, int workchain = 0, uint? subwalletId = null)
    {
        if (publicKey.Length != 32)
        {
            throw new ArgumentException("An Ed25519 public key is 32 bytes.", nameof(publicKey));
        }

        PublicKey = publicKey.ToArray();
        Workchain = workchain;
        SubwalletId = subwalletId ?? (uint)(DefaultSubwalletBase + workchain);
        var data = new CellBuilder()
            .StoreUInt(0, 32)
            .StoreUInt(SubwalletId, 32)
            .StoreBytes(PublicKey)
            .StoreBit(false)
            .EndCell();
        StateInit = new StateInit(WalletCode.V4R2, data);
        Address = StateInit.AddressIn(workchain);
    }

    public byte[] PublicKey { get; }

    public int Workchain { get; }

    public uint SubwalletId { get; }

    public StateInit StateInit { get; }

    public TonAddress Address { get; }

    /// <summary>The signed external message. Include the state init for the first transfer (seqno 0) of an undeployed wallet.</summary>
    public Cell CreateTransfer(WalletKey key, uint seqno, uint validUntil, IReadOnlyList<(InternalTransfer Message, byte Mode)> messages, bool includeStateInit = false)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (messages.Count > 4)
        {
            throw new ArgumentException("Wallet v4r2 sends at most 4 messages per transfer.", nameof(messages));
        }

        var unsigned = new CellBuilder()
            .StoreUInt(SubwalletId, 32)
            .StoreUInt(validUntil, 32)
            .StoreUInt(seqno, 32)
            .StoreUInt(0, 8);
        foreach (var (message, mode) in messages)
        {
            unsigned.StoreUInt(mode, 8).StoreRef(TonMessages.Internal(message));
        }

        var unsignedCell = unsigned.EndCell();
        var body = new CellBuilder().StoreBytes(key.Sign(unsignedCell.Hash)).StoreCell(unsignedCell).EndCell();
        return TonMessages.ExternalIn(Address, body, includeStateInit ? StateInit : null);
    }

    /// <summary>The public key stored in a v4r2 data cell (<c>seqno:32 subwallet:32 pubkey:256 plugins</c>).</summary>
    public static byte[] PublicKeyFromData(Cell data)
    {
        var s = data.BeginParse();
        s.SkipBits(64);
        return s.LoadBytes(32);
    }
}

/// <summary>The standard wallet v5r1: signed external transfers of up to 255 messages in one OutList.</summary>
public sealed class WalletV5R1
{
    public const int MainnetGlobalId = -239;
    public const int TestnetGlobalId = -3;
    public const int MaxMessages = 255;
    private const uint SignedExternalOp = 0x7369676e;
    private const uint ActionSendMsg = 0x0ec3c86d;

    public WalletV5R1(ReadOnlySpan<byte> publicKey, int workchain = 0, int networkGlobalId = MainnetGlobalId, int subwallet = 0)
    {
        if (publicKey.Length != 32)
        {
            throw new ArgumentException("An Ed25519 public key is 32 bytes.", nameof(publicKey));
        }

        PublicKey = publicKey.ToArray();
        Workchain = workchain;
        WalletId = ComputeWalletId(networkGlobalId, workchain, subwallet);
        var data = new CellBuilder()
            .StoreBit(true)
            .StoreUInt(0, 32)
            .StoreInt(WalletId, 32)
            .StoreBytes(PublicKey)
            .StoreBit(false)
            .EndCell();
        StateInit = new StateInit(WalletCode.V5R1, data);
        Address = StateInit.AddressIn(workchain);
    }

    public byte[] PublicKey { get; }

    public int Workchain { get; }

    public int WalletId { get; }

    public StateInit StateInit { get; }

    public TonAddress Address { get; }

    /// <summary><c>global_id XOR (1 ‖ workchain:int8 ‖ version 0:u8 ‖ subwallet:u15)</c> as int32.</summary>
    public static int ComputeWalletId(int networkGlobalId, int workchain, int subwallet)
    {
        if (subwallet is < 0 or > 0x7FFF)
        {
            throw new ArgumentOutOfRangeException(nameof(subwallet), subwallet, "The v5r1 subwallet number is 15 bits.");
        }

        var context = unchecked((int)(0x80000000u | ((uint)(byte)(sbyte)workchain << 23) | (uint)subwallet));
        return networkGlobalId ^ context;
    }

    /// <summary>
    /// The signed external message carrying an OutList of send-message actions. +2 (ignore errors) is added to
    /// every mode, as the wallet requires for external requests.
    /// </summary>
    public Cell CreateTransfer(WalletKey key, uint seqno, uint validUntil, IReadOnlyList<(InternalTransfer Message, byte Mode)> messages, bool includeStateInit = false)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (messages.Count > MaxMessages)
        {
            throw new ArgumentException($"Wallet v5r1 sends at most {MaxMessages} messages per transfer.", nameof(messages));
        }

        Cell? outList = null;
        if (messages.Count > 0)
        {
            var list = Cell.Empty;
            foreach (var (message, mode) in messages)
            {
                list = new CellBuilder()
                    .StoreRef(list)
                    .StoreUInt(ActionSendMsg, 32)
                    .StoreUInt((byte)(mode | 2), 8)
                    .StoreRef(TonMessages.Internal(message))
                    .EndCell();
            }

            outList = list;
        }

        var unsigned = new CellBuilder()
            .StoreUInt(SignedExternalOp, 32)
            .StoreInt(WalletId, 32)
            .StoreUInt(validUntil, 32)
            .StoreUInt(seqno, 32)
            .StoreMaybeRef(outList)
            .StoreBit(false)
            .EndCell();
        var body = new CellBuilder().StoreCell(unsigned).StoreBytes(key.Sign(unsigned.Hash)).EndCell();
        return TonMessages.ExternalIn(Address, body, includeStateInit ? StateInit : null);
    }

    /// <summary>The public key stored in a v5r1 data cell (<c>sig_allowed:1 seqno:32 wallet_id:32 pubkey:256 extensions</c>).</summary>
    public static byte[] PublicKeyFromData(Cell data)
    {
        var s = data.BeginParse();
        s.SkipBits(65);
        return s.LoadBytes(32);
    }
}
