/** Pieces every list view of the console shares: its error line, its table head and its row buttons. */

/** An error the view met, announced (role alert); nothing when there is none. */
export function ErrorNote({ error }: { error: string | undefined }) {
	return error ? (
		<p role="alert" class="error">
			{error}
		</p>
	) : null;
}

/** A list's column heads, and a last, unnamed-on-screen column for the row's buttons. */
export function ListHead({ columns }: { columns: string[] }) {
	return (
		<thead>
			<tr>
				{columns.map((column) => (
					<th scope="col" key={column}>
						{column}
					</th>
				))}
				<th scope="col">
					<span class="visually-hidden">Actions</span>
				</th>
			</tr>
		</thead>
	);
}

/** A row's button, named for screen readers by what it acts on ("Accept chat with Ann"). */
export function RowButton({
	label,
	name,
	onClick,
	disabled,
}: {
	label: string;
	name: string;
	onClick: () => void;
	disabled?: boolean;
}) {
	return (
		<button
			type="button"
			disabled={disabled}
			onClick={onClick}
			aria-label={name}
		>
			{label}
		</button>
	);
}
