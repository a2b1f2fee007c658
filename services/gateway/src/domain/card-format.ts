// The gateway is where card numbers enter: it checks only their shape (payment, which keeps them, checks the rest)
// and never repeats one in a message.

/** Why a card number is not even shaped like one, or undefined. */
export function cardFormatProblem(cardNumber: string): string | undefined {
  if (!cardNumber) return "card_number is required";
  if (!/^\d{16}$/.test(cardNumber)) return "card_number must be 16 digits";
  return undefined;
}
